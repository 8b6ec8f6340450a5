-- Issue 13: the partner banks the directory told of, and when their three topics (feed, decisions, payments) were
-- found or created; the `partner_topics` timer creates what is missing, so a broker out of reach delays it, no more.
create table partner_banks (
    bank_id          text primary key,
    topics_ready_at  timestamptz
);
