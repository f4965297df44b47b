{{ config(post_hook="{{ fw_dim_changed(['int_payments_matched']) }}") }}
with

source as (
    select * from {{ source('raw', 'deaths') }}
),

renamed as (
    select
        {{ normalise_name('name') }} as name,
        {{ normalise_id('id_number') }} as id_number,
        death_date,
        trim(data_source) as data_source,
        source_file,
        source_row,
        file_sha256,
        load_run_id
    from source
)

select * from renamed
