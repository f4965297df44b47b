{#-
  One row per finding and evidence record: the records a finding relies on, each with its inbox
  file and row and its fields as JSON text (money as 2-decimal text). Only records findings point
  at are turned into JSON; long lists are cut at evidence_list_limit (seed rule_parameters) and an
  `omitted` record per finding counts what was cut. Kinds and rules: see _findings__models.yml.
  The person-level tables are read where used (not materialized: DuckDB would copy a million rows
  of every column into the CTE first).

  Incremental (macros/incremental.sql, fw_evidence_pre): a day computes the evidence of the findings
  it can change (new ones, and those whose records were touched); everything when a small input
  changed.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ fw_evidence_pre() }}",
    post_hook="{{ fw_evidence_post() }}"
) }}
with

findings as (
    select * from {{ ref('fct_findings') }}
),

parameters as (
    select * from {{ ref('int_rule_parameters_pivoted') }}
),

allocations as (
    select * from {{ ref('stg_raw__allocations') }}
),

allocations_credited as (
    select * from {{ ref('int_allocations_credited') }}
),

credits as (
    select * from {{ ref('stg_raw__credits') }}
),

credits_matched as (
    select * from {{ ref('int_credits_matched_to_allocations') }}
),

projects as (
    select * from {{ ref('stg_raw__projects') }}
),

roster_entries as not materialized (
    select * from {{ ref('stg_raw__roster_entries') }}
),

payments as not materialized (
    select * from {{ ref('stg_raw__payments') }}
),

expenditures as (
    select * from {{ ref('stg_raw__expenditures') }}
),

spent as (
    select * from {{ ref('int_spending_aggregated_by_project') }}
),

postings as (
    select * from {{ ref('stg_raw__postings') }}
),

final_reports as (
    select * from {{ ref('stg_raw__final_reports') }}
),

decisions as (
    select * from {{ ref('stg_raw__decisions') }}
),

deaths as (
    select * from {{ ref('stg_raw__deaths') }}
),

staff_members as (
    select * from {{ ref('stg_raw__staff_members') }}
),

files as (
    select * from {{ ref('stg_raw__files') }}
),

rejected_rows as (
    select * from {{ ref('stg_raw__rejected_rows') }}
),

total_mismatches as (
    select * from {{ ref('stg_raw__total_mismatches') }}
),

subjects as (
    {% if fw_is_incremental() %}
    -- the findings in scope (fw_evidence_pre)
    select fw_ev_subjects.*
    from fw_ev_subjects
    semi join fw_ev_scope
        on fw_ev_subjects.finding_id = fw_ev_scope.finding_id
    {% else %}
    select
        finding_id,
        rule_id,
        subject_type,
        subject_key,
        project_code,
        unit_code
    from findings
    {% endif %}
),

-- ---------------------------------------------------------------- subjects with their own row

payment_subjects as (
    select
        subjects.finding_id,
        subjects.rule_id,
        payments.txn_ref,
        payments.project_code,
        payments.id_number,
        payments.account_no,
        payments.unit_code,
        payments.person_hash
    from subjects
    inner join payments
        on subjects.subject_key = payments.txn_ref
    where subjects.subject_type = 'payment'
),

roster_subjects as (
    select
        subjects.finding_id,
        subjects.rule_id,
        roster_entries.id_number
    from subjects
    inner join roster_entries
        on subjects.subject_key = roster_entries.roster_key
    where subjects.subject_type = 'roster_entry'
),

expenditure_subjects as (
    select
        subjects.finding_id,
        subjects.unit_code,
        expenditures.spend_date,
        expenditures.decision_no
    from subjects
    inner join expenditures
        on subjects.subject_key = expenditures.voucher_no
    where subjects.subject_type = 'expenditure' and subjects.rule_id = 'EXP_NO_DECISION'
),

-- ---------------------------------------------------------------- lists of payments, capped early
-- PAY_DUPLICATE: the person's other payments in the project; PAY_SHARED_ACCOUNT: the other
-- payments into the account; ROSTER_UNPAID: the person's payments in any project. Each group is
-- cut at limit + 1 before it meets its findings, so 10,000 payees of one account cost 10,000 x 51.

payment_list_requests as (
    select
        finding_id,
        'other_payments' as evidence_kind,
        'person' as group_type,
        project_code || '|' || id_number as group_key,
        txn_ref as own_txn_ref
    from payment_subjects
    where rule_id = 'PAY_DUPLICATE'
    union all
    select
        finding_id,
        'other_payments' as evidence_kind,
        'account' as group_type,
        account_no as group_key,
        txn_ref as own_txn_ref
    from payment_subjects
    where rule_id = 'PAY_SHARED_ACCOUNT'
    union all
    select
        finding_id,
        'person_payments' as evidence_kind,
        'id_number' as group_type,
        id_number as group_key,
        cast(null as varchar) as own_txn_ref
    from roster_subjects
    where rule_id = 'ROSTER_UNPAID'
),

payment_list_groups as (
    select distinct
        group_type,
        group_key
    from payment_list_requests
    where group_key is not null
),

-- the payments of the people listed, found by their stored person_hash (one equality, filtered in
-- the scan: macros/incremental.sql) and then matched on the codes, instead of the codes of every payment
people_payments as (
    select
        payments.project_code,
        payments.id_number,
        payments.txn_ref,
        payments.pay_date
    from payments
    where
        payments.person_hash in (
            select payment_subjects.person_hash
            from payment_subjects
            where payment_subjects.rule_id = 'PAY_DUPLICATE'
        )
),

payments_in_groups as (
    select
        payment_list_groups.group_type,
        payment_list_groups.group_key,
        people_payments.txn_ref,
        people_payments.pay_date
    from people_payments
    inner join payment_list_groups
        on
            payment_list_groups.group_type = 'person'
            and people_payments.project_code || '|' || people_payments.id_number = payment_list_groups.group_key
    union all
    select
        payment_list_groups.group_type,
        payment_list_groups.group_key,
        payments.txn_ref,
        payments.pay_date
    from payments
    inner join payment_list_groups
        on payment_list_groups.group_type = 'account' and payments.account_no = payment_list_groups.group_key
    union all
    select
        payment_list_groups.group_type,
        payment_list_groups.group_key,
        payments.txn_ref,
        payments.pay_date
    from payments
    inner join payment_list_groups
        on payment_list_groups.group_type = 'id_number' and payments.id_number = payment_list_groups.group_key
),

payments_by_group as (
    select
        payments_in_groups.group_type,
        payments_in_groups.group_key,
        payments_in_groups.txn_ref,
        row_number() over (
            partition by payments_in_groups.group_type, payments_in_groups.group_key
            order by payments_in_groups.pay_date, payments_in_groups.txn_ref
        ) as group_seq,
        count(*) over (partition by payments_in_groups.group_type, payments_in_groups.group_key) as group_size
    from payments_in_groups
    qualify group_seq <= (select parameters.evidence_list_limit from parameters) + 1
),

payment_lists as (
    select
        requests.finding_id,
        requests.evidence_kind,
        grouped.txn_ref,
        row_number() over (
            partition by requests.finding_id, requests.evidence_kind order by grouped.group_seq
        ) as record_seq,
        grouped.group_size - case when requests.own_txn_ref is null then 0 else 1 end as records_total
    from payment_list_requests as requests
    inner join payments_by_group as grouped
        on requests.group_type = grouped.group_type and requests.group_key = grouped.group_key
    where grouped.txn_ref is distinct from requests.own_txn_ref
),

-- ---------------------------------------------------------------- records as JSON (only those referenced)

needed_payments as (
    select txn_ref from payment_subjects
    union
    select txn_ref from payment_lists
    where record_seq <= (select parameters.evidence_list_limit from parameters)
),

payment_records as (
    {{ evidence_records(
        'payments', 'record.txn_ref', money=['amount'], exclude=['person_hash'],
        where='txn_ref in (select needed_payments.txn_ref from needed_payments)'
    ) }}
),

needed_roster_keys as (
    select subject_key as roster_key from subjects
    where subject_type = 'roster_entry'
    union
    select project_code || '|' || id_number as roster_key from payment_subjects
),

roster_records as (
    {{ evidence_records(
        'roster_entries', "record.project_code || '|' || record.id_number",
        money=['approved_amount'], exclude=['roster_key', 'person_hash'],
        where='roster_key in (select needed_roster_keys.roster_key from needed_roster_keys)'
    ) }}
),

allocation_records as (
    {{ evidence_records(
        'allocations', "record.doc_no || '|' || record.recipient_code || '|' || record.project_code",
        money=['amount'], exclude=['allocation_key'], also=['doc_no']
    ) }}
),

credit_records as (
    {{ evidence_records('credits', 'record.txn_ref', money=['amount'], also=['value_date']) }}
),

project_records as (
    {{ evidence_records(
        'projects', 'record.project_code',
        money=['budget', 'standard_amount', 'large_amount_threshold'], exclude=['allowed_categories'],
        rename={'allowed_categories_text': 'allowed_categories'}
    ) }}
),

expenditure_records as (
    {{ evidence_records(
        'expenditures', 'record.voucher_no', money=['amount'],
        where="voucher_no in (select subjects.subject_key from subjects where subjects.subject_type = 'expenditure')"
    ) }}
),

decision_records as (
    {{ evidence_records(
        'decisions', 'record.decision_no', money=['amount'], also=['unit_code', 'meeting_date']
    ) }}
),

death_records as (
    {{ evidence_records('deaths', 'record.id_number', also=['death_date']) }}
),

staff_records as (
    {{ evidence_records(
        'staff_members', "record.id_number || '|' || record.unit_code",
        rename={'staff_position': 'position'}
    ) }}
),

posting_records as (
    {{ evidence_records(
        'postings', 'record.project_code', rename={'posting_location': 'location'}, also=['start_date']
    ) }}
),

final_report_records as (
    {{ evidence_records('final_reports', 'record.project_code', money=['actual_spent'], also=['submit_date']) }}
),

-- ---------------------------------------------------------------- evidence, kind by kind

-- The subject's own row: one record for every subject but files and rejected rows.
subject_records as (
    select
        'allocation' as subject_type,
        *
    from allocation_records
    union all by name
    select
        'transfer' as subject_type,
        *
    from credit_records
    union all by name
    select
        'payment' as subject_type,
        *
    from payment_records
    union all by name
    select
        'roster_entry' as subject_type,
        *
    from roster_records
    union all by name
    select
        'expenditure' as subject_type,
        *
    from expenditure_records
    union all by name
    select
        'project' as subject_type,
        *
    from project_records
),

subject_evidence as (
    select
        subjects.finding_id,
        'subject' as evidence_kind,
        records.source_file,
        records.source_row,
        records.record_json
    from subjects
    inner join subject_records as records
        on subjects.subject_type = records.subject_type and subjects.subject_key = records.record_key
),

-- The roster entry a payment is checked against (PAY_* compare the payment with it).
roster_entry_evidence as (
    select
        payment_subjects.finding_id,
        'roster_entry' as evidence_kind,
        records.source_file,
        records.source_row,
        records.record_json
    from payment_subjects
    inner join roster_records as records
        on payment_subjects.project_code || '|' || payment_subjects.id_number = records.record_key
),

-- The project document of every record subject that names a project.
project_evidence as (
    select
        subjects.finding_id,
        'project' as evidence_kind,
        records.source_file,
        records.source_row,
        records.record_json
    from subjects
    inner join project_records as records
        on subjects.project_code = records.record_key
    where subjects.subject_type not in ('project', 'file', 'row')
),

payment_list_evidence as (
    select
        payment_lists.finding_id,
        payment_lists.evidence_kind,
        payment_lists.record_seq,
        payment_lists.records_total,
        records.source_file,
        records.source_row,
        records.record_json
    from payment_lists
    inner join payment_records as records
        on payment_lists.txn_ref = records.record_key
),

death_register_evidence as (
    select
        payment_subjects.finding_id,
        {{ evidence_list(
            'death_register', 'payment_subjects.finding_id',
            'records.death_date, records.source_file, records.source_row'
        ) }},
        records.source_file,
        records.source_row,
        records.record_json
    from payment_subjects
    inner join death_records as records
        on payment_subjects.id_number = records.record_key
    where payment_subjects.rule_id = 'PAY_DECEASED'
),

staff_register_evidence as (
    select
        payment_subjects.finding_id,
        {{ evidence_list(
            'staff_register', 'payment_subjects.finding_id', 'records.source_file, records.source_row'
        ) }},
        records.source_file,
        records.source_row,
        records.record_json
    from payment_subjects
    inner join staff_records as records
        on payment_subjects.id_number || '|' || payment_subjects.unit_code = records.record_key
    where payment_subjects.rule_id = 'PAY_STAFF_RELATED'
),

-- EXP_NO_DECISION: the decision the voucher cites (whatever its unit and date; is_cited) and the
-- decisions of the project's unit within evidence_decision_window_days of the 支出日期.
decision_candidates as (
    select
        expenditure_subjects.finding_id,
        true as is_cited,
        decision_records.*
    from expenditure_subjects
    inner join decision_records
        on expenditure_subjects.decision_no = decision_records.record_key
    union
    select
        expenditure_subjects.finding_id,
        coalesce(expenditure_subjects.decision_no = decision_records.record_key, false) as is_cited,
        decision_records.*
    from expenditure_subjects
    cross join parameters
    inner join decision_records
        on
            expenditure_subjects.unit_code = decision_records.unit_code
            and decision_records.meeting_date
            between expenditure_subjects.spend_date - parameters.evidence_decision_window_days
            and expenditure_subjects.spend_date + parameters.evidence_decision_window_days
),

decision_evidence as (
    select
        finding_id,
        {{ evidence_list(
            'decisions', 'finding_id', 'is_cited desc, meeting_date, record_key, source_file, source_row'
        ) }},
        source_file,
        source_row,
        cast(json_merge_patch(record_json, json_object('is_cited', is_cited)) as varchar) as record_json
    from decision_candidates
),

-- PROJ_OVER_BUDGET and PROJ_REPORT_MISMATCH: what the project spent, by category (payments to
-- individuals are one line), against the budget and the report in the project's own record.
spending_projects as (
    select distinct subject_key as project_code from subjects
    where rule_id in ('PROJ_OVER_BUDGET', 'PROJ_REPORT_MISMATCH')
),

-- the vouchers, by category (the payments to individuals come as their project's totals, below)
spending_lines as (
    select
        expenditures.project_code,
        'expenditure' as spending_kind,
        coalesce(expenditures.category, '（未填类别）') as category,
        expenditures.amount,
        expenditures.spend_date as spent_on
    from expenditures
    inner join spending_projects
        on expenditures.project_code = spending_projects.project_code
),

spending_by_category as (
    -- payments to individuals: one line, the project's totals (int_spending_aggregated_by_project
    -- sums every loaded payment once a day, instead of every payment of these projects again here)
    select
        cast(null as varchar) as source_file,
        cast(null as integer) as source_row,
        spent.project_code,
        'payment' as spending_kind,
        '个人补助发放' as category,
        spent.payment_count as record_count,
        spent.payment_amount as amount,
        spent.first_payment_on as first_spent_on,
        spent.last_payment_on as last_spent_on,
        cast(null as boolean) as is_allowed
    from spent
    inner join spending_projects
        on spent.project_code = spending_projects.project_code
    where spent.payment_count > 0
    union all
    select
        cast(null as varchar) as source_file,
        cast(null as integer) as source_row,
        spending_lines.project_code,
        spending_lines.spending_kind,
        spending_lines.category,
        count(*) as record_count,
        {{ money('sum(spending_lines.amount)') }} as amount,
        min(spending_lines.spent_on) as first_spent_on,
        max(spending_lines.spent_on) as last_spent_on,
        case
            when spending_lines.spending_kind = 'expenditure'
                then list_contains(any_value(projects.allowed_categories), spending_lines.category)
        end as is_allowed
    from spending_lines
    left join projects
        on spending_lines.project_code = projects.project_code
    group by spending_lines.project_code, spending_lines.spending_kind, spending_lines.category
),

spending_records as (
    {{ evidence_records(
        'spending_by_category', 'record.project_code', money=['amount'],
        also=['spending_kind', 'amount', 'category'], technical=[]
    ) }}
),

category_spending_evidence as (
    select
        subjects.finding_id,
        {{ evidence_list(
            'category_spending', 'subjects.finding_id',
            'records.spending_kind desc, cast(records.amount as decimal(18, 2)) desc, records.category'
        ) }},
        records.source_file,
        records.source_row,
        records.record_json
    from subjects
    inner join spending_records as records
        on subjects.subject_key = records.record_key
    where subjects.rule_id in ('PROJ_OVER_BUDGET', 'PROJ_REPORT_MISMATCH')
),

-- TRANSFER_UNMATCHED: allocations with the credit's 文号 (any unit, any project); is_candidate
-- marks the ones that also had its 收款单位代码 and 项目编码 (several of those = ambiguous).
candidate_allocation_lines as (
    select
        subjects.finding_id,
        allocation_records.record_key,
        coalesce(
            list_contains(string_split(credits_matched.candidate_allocation_keys, '；'), allocation_records.record_key),
            false
        ) as is_candidate,
        allocation_records.source_file,
        allocation_records.source_row,
        allocation_records.record_json
    from subjects
    inner join credits_matched
        on subjects.subject_key = credits_matched.txn_ref
    inner join allocation_records
        on ends_with(credits_matched.found_doc_no, allocation_records.doc_no)
    where subjects.rule_id = 'TRANSFER_UNMATCHED'
),

candidate_allocation_evidence as (
    select
        finding_id,
        {{ evidence_list('candidate_allocations', 'finding_id', 'is_candidate desc, record_key') }},
        source_file,
        source_row,
        cast(json_merge_patch(record_json, json_object('is_candidate', is_candidate)) as varchar) as record_json
    from candidate_allocation_lines
),

-- ALLOC_* and PROJ_FUNDS_IDLE: the credits matched to the allocation (or to the project's
-- allocations), each with its allocation's deadline and whether it arrived after it (is_late).
matched_credit_lines as (
    select
        credits_matched.txn_ref,
        credits_matched.matched_allocation_key,
        credits_matched.matched_project_code,
        allocations_credited.deadline_date,
        coalesce(credits_matched.value_date > allocations_credited.deadline_date, false) as is_late
    from credits_matched
    inner join allocations_credited
        on credits_matched.matched_allocation_key = allocations_credited.allocation_key
),

matched_credit_requests as (
    select
        subjects.finding_id,
        matched_credit_lines.*
    from subjects
    inner join matched_credit_lines
        on subjects.subject_key = matched_credit_lines.matched_allocation_key
    where subjects.subject_type = 'allocation'
    union all
    select
        subjects.finding_id,
        matched_credit_lines.*
    from subjects
    inner join matched_credit_lines
        on subjects.subject_key = matched_credit_lines.matched_project_code
    where subjects.rule_id = 'PROJ_FUNDS_IDLE'
),

matched_credit_evidence as (
    select
        requests.finding_id,
        {{ evidence_list('matched_credits', 'requests.finding_id', 'records.value_date, records.record_key') }},
        records.source_file,
        records.source_row,
        cast(json_merge_patch(
            records.record_json,
            json_object('deadline_date', requests.deadline_date, 'is_late', requests.is_late)
        ) as varchar) as record_json
    from matched_credit_requests as requests
    inner join credit_records as records
        on requests.txn_ref = records.record_key
),

posting_evidence as (
    select
        subjects.finding_id,
        {{ evidence_list(
            'postings', 'subjects.finding_id', 'records.start_date, records.source_file, records.source_row'
        ) }},
        records.source_file,
        records.source_row,
        records.record_json
    from subjects
    inner join posting_records as records
        on subjects.subject_key = records.record_key
    where subjects.rule_id = 'PROJ_NOT_POSTED'
),

final_report_evidence as (
    select
        subjects.finding_id,
        {{ evidence_list(
            'final_reports', 'subjects.finding_id', 'records.submit_date, records.source_file, records.source_row'
        ) }},
        records.source_file,
        records.source_row,
        records.record_json
    from subjects
    inner join final_report_records as records
        on subjects.subject_key = records.record_key
    where subjects.rule_id in ('PROJ_REPORT_MISSING', 'PROJ_REPORT_LATE', 'PROJ_REPORT_MISMATCH')
),

-- ---------------------------------------------------------------- files and rejected rows

current_files as (
    select
        source_file,
        cast(null as integer) as source_row,
        kind,
        status,
        reason,
        rows_loaded,
        rows_rejected,
        size_bytes,
        file_sha256,
        loaded_at
    from files
    where is_current
    qualify row_number() over (partition by source_file order by loaded_at desc, file_sha256 asc) = 1
),

file_evidence as (
    select
        subjects.finding_id,
        'file' as evidence_kind,
        record.source_file,
        record.source_row,
        {{ evidence_json('record') }} as record_json
    from subjects
    inner join current_files as record
        on subjects.subject_key = record.source_file
    where subjects.subject_type = 'file'
),

total_mismatch_records as (
    {{ evidence_records(
        'total_mismatches', 'record.source_file',
        money=['stated_total', 'computed_total', 'difference'], technical=['file_sha256']
    ) }}
),

total_mismatch_evidence as (
    select
        subjects.finding_id,
        {{ evidence_list(
            'total_mismatches', 'subjects.finding_id', 'records.source_row, records.record_json'
        ) }},
        records.source_file,
        records.source_row,
        records.record_json
    from subjects
    inner join total_mismatch_records as records
        on subjects.subject_key = records.record_key
    where subjects.rule_id = 'FILE_TOTAL_MISMATCH'
),

-- the cells of a rejected row as the clerk wrote them, under their header text (raw_values)
rejected_row_records as (
    {{ evidence_records(
        'rejected_rows', "record.source_file || '|' || cast(record.source_row as varchar)",
        replace={'raw_values': 'case when json_valid(raw_values) then cast(raw_values as json) end'},
        also=['loaded_at']
    ) }}
),

rejected_row_evidence as (
    select
        subjects.finding_id,
        {{ evidence_list('rejected_row', 'subjects.finding_id', 'records.loaded_at desc, records.record_json') }},
        records.source_file,
        records.source_row,
        records.record_json
    from subjects
    inner join rejected_row_records as records
        on subjects.subject_key = records.record_key
    where subjects.subject_type = 'row'
),

-- ---------------------------------------------------------------- together, cut and counted

single_records as (
    select * from subject_evidence
    union all by name
    select * from roster_entry_evidence
    union all by name
    select * from project_evidence
    union all by name
    select * from file_evidence
),

evidence_records as (
    select
        *,
        1 as record_seq,
        1 as records_total
    from single_records
    union all by name
    select * from payment_list_evidence
    union all by name
    select * from death_register_evidence
    union all by name
    select * from staff_register_evidence
    union all by name
    select * from decision_evidence
    union all by name
    select * from category_spending_evidence
    union all by name
    select * from candidate_allocation_evidence
    union all by name
    select * from matched_credit_evidence
    union all by name
    select * from posting_evidence
    union all by name
    select * from final_report_evidence
    union all by name
    select * from total_mismatch_evidence
    union all by name
    select * from rejected_row_evidence
),

listed as (
    select
        finding_id,
        evidence_kind,
        record_seq,
        source_file,
        source_row,
        record_json
    from evidence_records
    where record_seq <= (select parameters.evidence_list_limit from parameters)
),

cut_lists as (
    select
        finding_id,
        evidence_kind,
        max(records_total) as records_total
    from evidence_records
    group by finding_id, evidence_kind
    having max(records_total) > (select parameters.evidence_list_limit from parameters)
),

omitted as (
    select
        cut_lists.finding_id,
        'omitted' as evidence_kind,
        row_number() over (partition by cut_lists.finding_id order by cut_lists.evidence_kind) as record_seq,
        cast(null as varchar) as source_file,
        cast(null as integer) as source_row,
        cast(json_object(
            'source_file', null,
            'source_row', null,
            'evidence_kind', cut_lists.evidence_kind,
            'records_listed', parameters.evidence_list_limit,
            'records_total', cut_lists.records_total
        ) as varchar) as record_json
    from cut_lists
    cross join parameters
),

final as (
    select
        subjects.finding_id,
        subjects.rule_id,
        subjects.subject_type,
        subjects.subject_key,
        records.evidence_kind,
        cast(records.record_seq as integer) as record_seq,
        records.source_file,
        cast(records.source_row as integer) as source_row,
        records.record_json
    from (
        select * from listed
        union all by name
        select * from omitted
    ) as records
    inner join subjects
        on records.finding_id = subjects.finding_id
)

select * from final
