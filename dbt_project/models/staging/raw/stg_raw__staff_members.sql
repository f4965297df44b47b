{{ config(post_hook="{{ fw_dim_changed(['int_payments_matched']) }}") }}
with

source as (
    select * from {{ source('raw', 'staff') }}
),

renamed as (
    select
        {{ normalise_name('name') }} as name,
        {{ normalise_id('id_number') }} as id_number,
        unit_code,
        trim(position) as staff_position,
        trim(relation) as relation,
        {{ normalise_id('staff_id_number') }} as staff_id_number,
        source_file,
        source_row,
        file_sha256,
        load_run_id
    from source
)

select * from renamed
