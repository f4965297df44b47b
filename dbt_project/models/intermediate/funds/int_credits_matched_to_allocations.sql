{#-
  One row per credit (流水号) with the allocation it matches (rules.md "Matching credits to
  allocations"): 文号 from the 文号 column, else the first 文号-shaped text in 摘要 (any bracket
  variant, normalised to 〔〕); same 收款单位代码; narrowed by 项目编码 where the credit gives one.
  Exactly one candidate = matched; none or several = unmatched (TRANSFER_UNMATCHED).

  A Chinese prefix found in 摘要 is the whole run of Chinese characters before the bracket
  (e.g. 拨付湘财社指〔2020〕36号 in "拨付湘财社指（2020）36号资金"), so a memo document matches
  an allocation whose 文号 has the same year and number and whose prefix ends that run.
  A 文号 column value must equal the allocation's 文号.
-#}
with

credits as (
    select * from {{ ref('stg_raw__credits') }}
),

allocations as (
    select * from {{ ref('stg_raw__allocations') }}
),

credit_documents as (
    select
        *,
        regexp_extract(doc_no, {{ doc_no_pattern() }}, ['prefix', 'doc_year', 'doc_number'])
            as column_parts,
        regexp_extract(memo, {{ doc_no_pattern() }}, ['prefix', 'doc_year', 'doc_number'])
            as memo_parts
    from credits
),

credit_document_parts as (
    select
        *,
        struct_extract(column_parts, 'doc_year') || '|' || struct_extract(column_parts, 'doc_number')
            as column_year_number,
        nullif(struct_extract(memo_parts, 'prefix'), '') as memo_prefix,
        struct_extract(memo_parts, 'doc_year') || '|' || struct_extract(memo_parts, 'doc_number')
            as memo_year_number,
        struct_extract(memo_parts, 'prefix') || '〔' || struct_extract(memo_parts, 'doc_year') || '〕'
        || struct_extract(memo_parts, 'doc_number') || '号' as memo_doc_no
    from credit_documents
),

credit_keys as (
    select
        *,
        case
            when doc_no is not null then '文号'
            when memo_prefix is not null then '摘要'
        end as doc_no_origin,
        case
            when doc_no is not null then doc_no
            when memo_prefix is not null then memo_doc_no
        end as found_doc_no,
        case
            when doc_no is not null and column_year_number != '|' then column_year_number
            when doc_no is not null then doc_no
            when memo_prefix is not null then memo_year_number
        end as doc_join_key
    from credit_document_parts
),

allocation_parts as (
    select
        allocation_key,
        doc_no,
        recipient_code,
        project_code,
        regexp_extract(doc_no, {{ doc_no_pattern() }}, ['prefix', 'doc_year', 'doc_number']) as parts
    from allocations
),

allocation_join_keys as (
    select
        allocation_key,
        doc_no,
        recipient_code,
        project_code,
        struct_extract(parts, 'prefix') as doc_prefix,
        case
            when struct_extract(parts, 'doc_year') != ''
                then struct_extract(parts, 'doc_year') || '|' || struct_extract(parts, 'doc_number')
            else doc_no
        end as doc_join_key
    from allocation_parts
),

candidates as (
    select
        credit_keys.txn_ref,
        allocation_join_keys.allocation_key,
        allocation_join_keys.project_code as allocation_project_code
    from credit_keys
    inner join allocation_join_keys
        on
            credit_keys.doc_join_key = allocation_join_keys.doc_join_key
            and credit_keys.recipient_code = allocation_join_keys.recipient_code
    where
        (credit_keys.project_code is null or credit_keys.project_code = allocation_join_keys.project_code)
        and (
            (credit_keys.doc_no_origin = '文号' and credit_keys.doc_no = allocation_join_keys.doc_no)
            or (
                credit_keys.doc_no_origin = '摘要'
                and ends_with(credit_keys.memo_prefix, allocation_join_keys.doc_prefix)
            )
        )
),

candidates_per_credit as (
    select
        txn_ref,
        count(*) as candidate_count,
        string_agg(allocation_key, '；' order by allocation_key) as candidate_allocation_keys,
        min(allocation_key) as first_allocation_key,
        min(allocation_project_code) as first_allocation_project_code
    from candidates
    group by txn_ref
),

matched as (
    select
        credit_keys.txn_ref,
        credit_keys.value_date,
        credit_keys.payer,
        credit_keys.recipient_code,
        credit_keys.recipient_name,
        credit_keys.amount,
        credit_keys.doc_no,
        credit_keys.memo,
        credit_keys.project_code,
        credit_keys.doc_no_origin,
        credit_keys.found_doc_no,
        coalesce(candidates_per_credit.candidate_count, 0) as candidate_count,
        candidates_per_credit.candidate_allocation_keys,
        case
            when candidates_per_credit.candidate_count = 1 then candidates_per_credit.first_allocation_key
        end as matched_allocation_key,
        case
            when candidates_per_credit.candidate_count = 1 then candidates_per_credit.first_allocation_project_code
        end as matched_project_code,
        credit_keys.source_file,
        credit_keys.source_row,
        credit_keys.file_sha256,
        credit_keys.load_run_id
    from credit_keys
    left join candidates_per_credit
        on credit_keys.txn_ref = candidates_per_credit.txn_ref
)

select * from matched
