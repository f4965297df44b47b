with

source as (
    select * from {{ source('raw', 'deaths') }}
),

renamed as (
    select
        name,
        id_number,
        death_date,
        trim(data_source) as data_source,
        source_file,
        source_row,
        file_sha256,
        load_run_id
    from source
)

select * from renamed
