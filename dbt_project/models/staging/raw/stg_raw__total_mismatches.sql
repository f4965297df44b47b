with

source as (
    select * from {{ source('raw', 'total_mismatches') }}
),

renamed as (
    select
        source_file,
        file_sha256,
        source_row,
        column_name,
        {{ money('stated_total') }} as stated_total,
        {{ money('computed_total') }} as computed_total,
        {{ money('difference') }} as difference
    from source
)

select * from renamed
