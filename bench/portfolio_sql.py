"""The SQL that expands a few hundred schedule templates into a national portfolio of active loans."""

from __future__ import annotations

from services.servicing.app import DEFINITION as SERVICING

SCHEMA = SERVICING.schema
# Loans draw their schedule template from this many weighted slots (see portfolio.picks).
PICK_SLOTS = 10_000
ASSOCIATIONS = ("secours-catholique", "restos-du-coeur", "croix-rouge", "adie", "udaf", "ccas", "cresus",
                "point-conseil-budget", "emmaus", "france-active")
REGIONS = ("hauts-de-france", "ile-de-france", "grand-est", "normandie", "bretagne", "pays-de-la-loire",
           "centre-val-de-loire", "bourgogne-franche-comte", "nouvelle-aquitaine", "occitanie",
           "auvergne-rhone-alpes", "provence-alpes-cote-d-azur", "corse")
BANKS = ("la-banque-postale", "credit-municipal", "caisse-d-epargne", "credit-cooperatif", "credit-mutuel-nord",
         "credit-agricole", "bnp-paribas", "societe-generale")


STAGING = """
drop schema if exists bench cascade;
create schema bench;
create unlogged table bench.meta (loans integer, business_date date, seed integer, generated_at timestamptz);
create unlogged table bench.templates (template integer primary key, amount_cents integer, annual_rate numeric(9, 6), duration_months integer);
create unlogged table bench.template_lines (
    template integer, number integer, principal_cents integer, interest_cents integer, amount_cents integer,
    remaining_principal_cents integer, primary key (template, number));
create unlogged table bench.picks (slot integer primary key, template integer);
"""

# Every random choice of a loan, drawn once; rows in loan-id order so the loads append to the primary keys.
# {loans} and {business_date} are filled in (a CREATE TABLE AS takes no parameters). Arrears: 3 % one instalment behind, 1 % two, 0.5 % three, 0.4 % four to six,
# 0.12 % seven to ten; 30 % of them paid part of the oldest; 42 % of borrowers missed (and settled) 1–3 before.
LOANS_DRAWN = f"""
create unlogged table bench.loans as
with draws as (
    select g, floor(random() * {PICK_SLOTS})::int as slot, 1 + floor(random() * 28)::int as day,
           random() as r_age, random() as r_late, random() as r_k, random() as r_part, random() as r_frac,
           random() as r_hist, random() as r_h1, random() as r_h2, random() as r_h3, random() as r_h,
           floor(random() * {len(ASSOCIATIONS)})::int as association, floor(random() * {len(REGIONS)})::int as region,
           floor(random() * 400)::int as counsellor, floor(random() * {len(BANKS)})::int as bank, random() as r_payee
      from generate_series(1, {{loans}}) g
), shaped as (
    select d.*, p.template, t.duration_months,
           floor(d.r_age * t.duration_months)::int as k_due,
           case when d.r_late < 0.030 then 1 when d.r_late < 0.040 then 2 when d.r_late < 0.045 then 3
                when d.r_late < 0.049 then 4 + floor(d.r_k * 3)::int when d.r_late < 0.0502 then 7 + floor(d.r_k * 4)::int
                else 0 end as k_late,
           case when d.day <= extract(day from {{business_date}})
                then make_date(extract(year from {{business_date}})::int, extract(month from {{business_date}})::int, d.day)
                else (make_date(extract(year from {{business_date}})::int, extract(month from {{business_date}})::int, d.day) - interval '1 month')::date
           end as last_due
      from draws d join bench.picks p on p.slot = d.slot join bench.templates t on t.template = p.template
), loans as (
    select gen_random_uuid() as id, gen_random_uuid() as application_id, s.template, s.day, s.k_due,
           least(s.k_late, s.k_due) as k_unpaid, s.k_due - least(s.k_late, s.k_due) as k_paid,
           case when s.r_part < 0.3 then 0.2 + 0.6 * s.r_frac else 0 end as partial_frac,
           case when s.k_due >= 1 then (s.last_due - (s.k_due - 1) * interval '1 month')::date
                else (s.last_due + interval '1 month')::date end as first_due,
           s.r_hist < 0.42 as settled_before, s.r_h1, s.r_h2, s.r_h3, s.r_h,
           (array{list(ASSOCIATIONS)})[1 + s.association] as association_id,
           (array{list(REGIONS)})[1 + s.region] as region,
           'c-' || (array{list(ASSOCIATIONS)})[1 + s.association] || '-' || s.counsellor as counsellor_id,
           (array{list(BANKS)})[1 + s.bank] as bank_id,
           case when s.r_payee < 0.6 then 'borrower' else 'Garage du Centre' end as payee
      from shaped s
)
select row_number() over (order by id) as seq, l.*,
       -- Instalments missed and settled before the migration: 1 to 3 among those paid.
       case when l.settled_before and l.k_paid > 0 then 1 + floor(l.r_h1 * l.k_paid)::int end as h1,
       case when l.settled_before and l.k_paid > 0 and l.r_h < 0.5 then 1 + floor(l.r_h2 * l.k_paid)::int end as h2,
       case when l.settled_before and l.k_paid > 0 and l.r_h < 0.2 then 1 + floor(l.r_h3 * l.k_paid)::int end as h3
  from loans l
 order by l.id
"""

LOANS_INSERT = f"""
insert into {SCHEMA}.loans (id, application_id, association_id, region, counsellor_id, bank_id, amount_cents, annual_rate,
    duration_months, first_due_date, guarantee_share, status, payee, disbursed_on, created_at, instalment_day,
    schedule_version, principal_outstanding_cents)
select b.id, b.application_id, b.association_id, b.region, b.counsellor_id, b.bank_id, t.amount_cents, t.annual_rate,
       t.duration_months, b.first_due, 0.5, 'active', b.payee, (b.first_due - interval '1 month')::date,
       (b.first_due - interval '1 month')::timestamptz, b.day, 1,
       coalesce(paid.remaining_principal_cents, t.amount_cents)
         - coalesce(floor(b.partial_frac * part.amount_cents)::int - least(part.interest_cents, floor(b.partial_frac * part.amount_cents)::int), 0)
  from bench.loans b
  join bench.templates t on t.template = b.template
  left join bench.template_lines paid on paid.template = b.template and paid.number = b.k_paid
  left join bench.template_lines part on part.template = b.template and part.number = b.k_paid + 1 and b.k_unpaid > 0
"""

# $1..$2: the range of `seq` this statement loads (two run side by side, one per core).
INSTALMENTS_INSERT = f"""
insert into {SCHEMA}.instalments (loan_id, number, due_date, principal_cents, interest_cents, amount_cents,
    remaining_principal_cents, paid_cents, interest_paid_cents, principal_paid_cents, missed_on)
select b.id, t.number, due.due_on, t.principal_cents, t.interest_cents, t.amount_cents, t.remaining_principal_cents,
       p.paid, least(t.interest_cents, p.paid), p.paid - least(t.interest_cents, p.paid),
       case when t.number <= b.k_paid and t.number in (b.h1, b.h2, b.h3) then due.due_on + 1 end
  from bench.loans b
  join bench.template_lines t on t.template = b.template
  cross join lateral (select (b.first_due + (t.number - 1) * interval '1 month')::date as due_on) due
  cross join lateral (
      select case when t.number <= b.k_paid then t.amount_cents
                  when t.number = b.k_paid + 1 and b.k_unpaid > 0 then floor(b.partial_frac * t.amount_cents)::int
                  else 0 end as paid
  ) p
 where b.seq between $1 and $2
"""

HISTORY_INSERT = f"""
insert into {SCHEMA}.missed_instalments (loan_id, number, business_date, amount_unpaid_cents)
select b.id, h.n, (b.first_due + (h.n - 1) * interval '1 month')::date + 1, t.amount_cents
  from bench.loans b
 cross join lateral (select distinct n from unnest(array[b.h1, b.h2, b.h3]) n where n is not null) h
  join bench.template_lines t on t.template = b.template and t.number = h.n
"""

# Undo what earlier runs of the benchmark did, so --keep measures the same run again.
RESET = f"""
update {SCHEMA}.instalments i set missed_on = null
  from {SCHEMA}.missed_instalments m
 where m.business_date in (select business_date from {SCHEMA}.cob_runs) and i.loan_id = m.loan_id and i.number = m.number;
delete from {SCHEMA}.missed_instalments where business_date in (select business_date from {SCHEMA}.cob_runs);
update {SCHEMA}.loans set status = 'active', written_off_on = null where written_off_on is not null;
update {SCHEMA}.loans set days_past_due = 0, arrears_cents = 0, delinquency_stage = 'current'
 where status = 'active' and (days_past_due > 0 or arrears_cents > 0);
truncate {SCHEMA}.loans_in_arrears;
delete from {SCHEMA}.cob_runs;
truncate {SCHEMA}.outbox;
"""
