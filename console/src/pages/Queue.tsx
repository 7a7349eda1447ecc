// The case queue: filters (kept in the URL), counts per status, newest activity or severity first,
// cursor pages, and a refresh every 15 seconds that keeps the page, the filters and the focus.
import { useEffect, useState, type FormEvent } from "react";
import { type CaseCounts, type CasePage, type RulePage, qs, severities, statuses } from "../api";
import { fmtTime, fromLocalInput, toLocalInput } from "../format";
import { href, replaceQuery } from "../route";
import { useApi, useInterval } from "../useApi";
import { Alert, Table } from "../components/Table";

const filterKeys = ["status", "severity", "ruleId", "accountId", "assignee", "from", "to", "sort"] as const;
type Filters = Partial<Record<(typeof filterKeys)[number], string>>;

const pageSize = 25;

export function Queue({ query }: { query: URLSearchParams }) {
  const filters: Filters = Object.fromEntries(filterKeys.map((k) => [k, query.get(k) ?? undefined]).filter(([, v]) => v));
  const cursor = query.get("cursor") ?? undefined;
  // The cursors of the pages before this one are in the URL too ("-" is the first page), so
  // reload and back keep "Previous page" working.
  const previous = (query.get("prev") ?? "").split(",").filter(Boolean).map((c) => (c === "-" ? undefined : c));
  const [autoRefresh, setAutoRefresh] = useState(true);
  const [draft, setDraft] = useState<Filters>(filters);
  // The form follows the URL when it changes from outside (the nav link, back, forward).
  const filterKey = JSON.stringify(filters);
  useEffect(() => setDraft(JSON.parse(filterKey) as Filters), [filterKey]);

  const list = useApi<CasePage>(`/v1/cases${qs({ ...filters, limit: pageSize, cursor })}`);
  const { status: _status, sort: _sort, ...countFilters } = filters;
  const counts = useApi<CaseCounts>(`/v1/cases/counts${qs(countFilters)}`);
  const rules = useApi<RulePage>("/v1/rules?limit=500");
  const [refreshedAt, setRefreshedAt] = useState<Date>();
  useEffect(() => {
    if (list.data) setRefreshedAt(new Date());
  }, [list.data]);
  useInterval(
    () => {
      void list.reload();
      void counts.reload();
    },
    15_000,
    autoRefresh,
  );

  const go = (next: Filters, nextCursor?: string, prev: (string | undefined)[] = []) => {
    replaceQuery(["cases"], { ...next, cursor: nextCursor, prev: prev.length ? prev.map((c) => c ?? "-").join(",") : undefined });
  };
  const apply = (e: FormEvent) => {
    e.preventDefault();
    go(draft);
  };
  const setStatus = (status?: string) => {
    setDraft({ ...draft, status });
    go({ ...filters, status });
  };

  return (
    <section aria-labelledby="queue-title">
      <h1 id="queue-title">Cases</h1>
      <div className="tabs" role="group" aria-label="Status">
        <button type="button" aria-pressed={!filters.status} onClick={() => setStatus(undefined)}>
          All <span className="count">{counts.data?.total ?? "…"}</span>
        </button>
        {statuses.map((s) => (
          <button key={s} type="button" aria-pressed={filters.status === s} onClick={() => setStatus(s)} data-status={s}>
            {s} <span className="count">{counts.data?.counts[s] ?? "…"}</span>
          </button>
        ))}
      </div>

      <form className="filters" onSubmit={apply} aria-label="Filters">
        <div className="field">
          <label htmlFor="f-severity">Severity</label>
          <select id="f-severity" value={draft.severity ?? ""} onChange={(e) => setDraft({ ...draft, severity: e.target.value || undefined })}>
            <option value="">any</option>
            {severities.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-rule">Rule</label>
          <select id="f-rule" value={draft.ruleId ?? ""} onChange={(e) => setDraft({ ...draft, ruleId: e.target.value || undefined })}>
            <option value="">any</option>
            {(rules.data?.items ?? []).map((r) => (
              <option key={r.id} value={r.id}>
                {r.id}
              </option>
            ))}
            {draft.ruleId && !rules.data?.items.some((r) => r.id === draft.ruleId) && <option value={draft.ruleId}>{draft.ruleId}</option>}
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-account">Account</label>
          <input id="f-account" value={draft.accountId ?? ""} onChange={(e) => setDraft({ ...draft, accountId: e.target.value || undefined })} placeholder="account id" />
        </div>
        <div className="field">
          <label htmlFor="f-assignee">Assignee</label>
          <input id="f-assignee" value={draft.assignee ?? ""} onChange={(e) => setDraft({ ...draft, assignee: e.target.value || undefined })} placeholder="analyst" />
        </div>
        <div className="field">
          <label htmlFor="f-from">Active from</label>
          <input id="f-from" type="datetime-local" value={toLocalInput(draft.from)} onChange={(e) => setDraft({ ...draft, from: fromLocalInput(e.target.value) })} />
        </div>
        <div className="field">
          <label htmlFor="f-to">Active until</label>
          <input id="f-to" type="datetime-local" value={toLocalInput(draft.to)} onChange={(e) => setDraft({ ...draft, to: fromLocalInput(e.target.value) })} />
        </div>
        <div className="field">
          <label htmlFor="f-sort">Sort</label>
          <select id="f-sort" value={draft.sort ?? "activity"} onChange={(e) => setDraft({ ...draft, sort: e.target.value === "activity" ? undefined : e.target.value })}>
            <option value="activity">newest activity</option>
            <option value="severity">severity</option>
          </select>
        </div>
        <div className="filter-actions">
          <button type="submit">Apply filters</button>
          <button
            type="button"
            className="secondary"
            onClick={() => {
              setDraft({});
              go({});
            }}
          >
            Clear
          </button>
        </div>
      </form>

      <div className="toolbar">
        <label className="inline">
          <input type="checkbox" checked={autoRefresh} onChange={(e) => setAutoRefresh(e.target.checked)} /> Refresh every 15 s
        </label>
        {/* Not a live region: a refresh every 15 s must not talk over the analyst's screen reader. */}
        <span className="muted">{!list.data ? "Loading…" : `Updated ${refreshedAt?.toLocaleTimeString("en-GB") ?? ""}`}</span>
      </div>

      {list.error && <Alert>{list.error.message}</Alert>}
      <Table columns={["Severity", "Status", "Account", "Rule", "Clause", "Hits", "Assignee", "Last activity"]} className="cases" caption={`Violation cases${filters.status ? `, ${filters.status}` : ""}`}>
        {list.data?.items.map((c) => (
          <tr key={c.id}>
            <td>
              <span className={`sev sev-${c.severity}`}>{c.severity}</span>
            </td>
            <td>
              <span className={`status status-${c.status}`}>{c.status}</span>
            </td>
            <td>
              <a href={href(["cases", c.id])}>{c.accountId}</a>
            </td>
            <td>{c.ruleId}</td>
            <td className="muted">{c.clause.ref}</td>
            <td className="num">{c.hitCount.toLocaleString("en-US")}</td>
            <td>{c.assignee ?? <span className="muted">—</span>}</td>
            <td>{fmtTime(c.activityAt)}</td>
          </tr>
        ))}
        {list.data && list.data.items.length === 0 && (
          <tr>
            <td colSpan={8} className="muted">
              No case matches these filters.
            </td>
          </tr>
        )}
      </Table>
      <nav className="pager" aria-label="Pages">
        <button
          type="button"
          disabled={!cursor}
          onClick={() => go(filters, previous[previous.length - 1], previous.slice(0, -1))}
        >
          Previous page
        </button>
        <button
          type="button"
          disabled={!list.data?.nextCursor}
          onClick={() => go(filters, list.data!.nextCursor!, [...previous, cursor])}
        >
          Next page
        </button>
      </nav>
    </section>
  );
}
