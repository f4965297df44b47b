with

source as (
    select * from {{ source('raw', 'rejected_rows') }}
),

renamed as (
    select
        source_file,
        source_row,
        file_sha256,
        kind,
        reason,
        raw_values,
        load_run_id,
        loaded_at
    from source
)

select * from renamed
