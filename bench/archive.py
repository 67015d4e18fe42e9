"""Archive search at scale: the real selector over millions of messages, beside baselines in the same run.

    .venv/bin/python -m bench.archive --postgres postgres://postgres@127.0.0.1:5432/postgres [--messages 10000000] [--searches 300]

A database `custos_bench_archive` is created at the URL's server (dropped afterwards unless
--keep), migrated, and filled by COPY straight into the archive's read model (units, staff,
conversations, messages: the bench measures search, not ingest) with realistic Chinese chat
text from a seeded generator: 1 HQ, 8 regions, 320 stores, ~3,500 staff, ~100,000
conversations, ~30,000 customers. The message table's indexes are dropped for the load and
rebuilt from their own definitions (those the migrations made, pg_trgm GIN included), then
ANALYZE.

Searches go through custos.archive.selectors.search exactly as the console's search page uses
it (AheadPaginator: a count of up to HITS_CAP (300) hits and the first page of 30), as an admin (everything), a region manager
(~40 stores) and a store manager (~10 staff), for queries of 2, 3 and 4+ Chinese characters,
with and without filters (an employee, the last 30 days, a message kind). Printed: p50/p95/p99
per class and overall. Aim: p95 < 200 ms.

Baselines, same run, same queries: `exact id`, a primary-key fetch through the same scoped
queryset (the floor of one round trip and the scope joins); `no index`, the very same SQL with
bitmap scans switched off so the trigram GIN index cannot be used (the LIKE scan it replaces),
on a sample of the searches because each can scan the whole table.

Measured 2026-11-29, before the bigram column, at 1,000,000 messages: p95 330-356 ms, with three
causes: 2-character terms had no trigram (LIKE scans), counting every hit, and scoped plans that
walked each staff member's messages. Since then: bigrams in a generated column under GIN for
2-character terms (archive migration 0004), counts stop 1,000 ahead (core.paging), a manager's
scope is a list of staff ids, and the kind filter reads one column. Measured again the same day:
1M messages p95 83 ms; 10M messages p95 401-516 ms, still MISSING the aim: filters the planner
took for independent of the text ("+kind" with a term that never occurs in call notes walked
every message, 2-4.5 s) and "+30 days" walking the month row by row.

Later that day (migration 0005, selectors.search): the GIN index holds each message's kind,
msgtype, employee and customer as keys beside its bigrams, and a search fetches at most 300 hits
by that index alone (bitmap scans only) before ordering a page; the pager counts 300 ahead. At
10M: p95 422 ms (p50 45), admin p95 152, store manager p95 136, "+kind" p50 28-51 ms (no more
seconds), "+employee" p95 23-29 ms. Still MISSING the aim, now only for a region manager (p95
~620 ms, a scope of ~440 staff and an eighth of all messages): the newest 30 of a region's
thousands of hits are found by a BitmapAnd of the words with the region's staff and a sort of all
their rows (10,000+ random heap reads). Tried and measured slower: the staff as keys of the same
GIN index (an overlap of 440 keys: 120-450 ms in the index alone), and the region's staff checked
on the rows instead (the planner then walks: up to 10 s). Not tried: time windows (the words
AND'ed with the last 7, 30, 120 days through the occurred_at index, widened until a page is full).
