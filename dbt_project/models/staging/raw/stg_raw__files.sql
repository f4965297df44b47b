with

source as (
    select * from {{ source('raw', 'files') }}
),

renamed as (
    select
        source_file,
        file_sha256,
        size_bytes,
        kind,
        status,
        reason,
        rows_loaded,
        rows_rejected,
        is_current,
        load_run_id,
        loaded_at
    from source
)

select * from renamed
