-- The raw layer exactly as ARCHITECTURE.md ("Raw layer") defines it; the dbt tests build a
-- fixture warehouse from this DDL plus hand-made rows (ingestion writes the real one).
create schema if not exists raw;

create table raw.allocations (
    doc_no varchar, issue_date date, issuer varchar, fiscal_year integer, recipient_code varchar,
    recipient_name varchar, project_code varchar, amount decimal(18, 2), deadline_days integer,
    source_file varchar, source_row integer, file_sha256 varchar, load_run_id varchar, loaded_at timestamp
);
create table raw.credits (
    txn_ref varchar, value_date date, payer varchar, recipient_code varchar, recipient_name varchar,
    amount decimal(18, 2), doc_no varchar, memo varchar, project_code varchar,
    source_file varchar, source_row integer, file_sha256 varchar, load_run_id varchar, loaded_at timestamp
);
create table raw.projects (
    project_code varchar, project_name varchar, project_type varchar, unit_code varchar, unit_name varchar,
    start_date date, end_date date, budget decimal(18, 2), standard_amount decimal(18, 2), pay_deadline date,
    publicity_days integer, report_deadline date, allowed_categories varchar,
    large_amount_threshold decimal(18, 2),
    source_file varchar, source_row integer, file_sha256 varchar, load_run_id varchar, loaded_at timestamp
);
create table raw.roster (
    project_code varchar, name varchar, id_number varchar, person_category varchar, account_no varchar,
    bank_name varchar, approved_amount decimal(18, 2), unit_code varchar, report_date date,
    publicity_start date, publicity_end date,
    source_file varchar, source_row integer, file_sha256 varchar, load_run_id varchar, loaded_at timestamp
);
create table raw.payments (
    txn_ref varchar, batch varchar, project_code varchar, name varchar, id_number varchar, account_no varchar,
    bank_name varchar, amount decimal(18, 2), pay_date date, unit_code varchar, remark varchar,
    source_file varchar, source_row integer, file_sha256 varchar, load_run_id varchar, loaded_at timestamp
);
create table raw.expenditures (
    voucher_no varchar, project_code varchar, spend_date date, category varchar, amount decimal(18, 2),
    payee varchar, memo varchar, decision_no varchar,
    source_file varchar, source_row integer, file_sha256 varchar, load_run_id varchar, loaded_at timestamp
);
create table raw.postings (
    project_code varchar, posting_type varchar, start_date date, end_date date, location varchar,
    evidence_no varchar,
    source_file varchar, source_row integer, file_sha256 varchar, load_run_id varchar, loaded_at timestamp
);
create table raw.final_reports (
    project_code varchar, report_no varchar, submit_date date, actual_spent decimal(18, 2), beneficiaries integer,
    source_file varchar, source_row integer, file_sha256 varchar, load_run_id varchar, loaded_at timestamp
);
create table raw.decisions (
    decision_no varchar, unit_code varchar, meeting_date date, meeting_type varchar, matter varchar,
    amount decimal(18, 2), project_code varchar,
    source_file varchar, source_row integer, file_sha256 varchar, load_run_id varchar, loaded_at timestamp
);
create table raw.deaths (
    name varchar, id_number varchar, death_date date, data_source varchar,
    source_file varchar, source_row integer, file_sha256 varchar, load_run_id varchar, loaded_at timestamp
);
create table raw.staff (
    name varchar, id_number varchar, unit_code varchar, position varchar, relation varchar,
    staff_id_number varchar,
    source_file varchar, source_row integer, file_sha256 varchar, load_run_id varchar, loaded_at timestamp
);
create table raw.files (
    source_file varchar, file_sha256 varchar, size_bytes bigint, kind varchar, status varchar, reason varchar,
    rows_loaded integer, rows_rejected integer, is_current boolean, load_run_id varchar, loaded_at timestamp
);
create table raw.rejected_rows (
    source_file varchar, source_row integer, file_sha256 varchar, kind varchar, reason varchar,
    raw_values varchar, load_run_id varchar, loaded_at timestamp
);
create table raw.total_mismatches (
    source_file varchar, file_sha256 varchar, source_row integer, column_name varchar,
    stated_total decimal(18, 2), computed_total decimal(18, 2), difference decimal(18, 2)
);
