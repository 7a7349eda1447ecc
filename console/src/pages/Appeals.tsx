// Appeals beside the case queue: the queue (nearest deadline first, counts per status, overdue
// flagged), and one appeal with the statement it contests, the holder's explanation and the
// decision (review, uphold, reverse with what becomes of the case). The server refuses a decision
// by whoever placed the enforcement (four eyes); the page shows why.
import { useState, type FormEvent } from "react";
import { type AppealCounts, type AppealPage, type AppealView, type Statement, ApiError, api, appealStatuses, caseOutcomes, qs } from "../api";
import { fmtTime } from "../format";
import { href, replaceQuery } from "../route";
import { useApi } from "../useApi";
import { Alert, Table } from "../components/Table";

export function AppealsQueue({ query }: { query: URLSearchParams }) {
  const status = query.get("status") ?? undefined;
  const overdue = query.get("overdue") === "true" ? "true" : undefined;
  const list = useApi<AppealPage>(`/v1/appeals${qs({ status, overdue, limit: 50 })}`);
  const counts = useApi<AppealCounts>("/v1/appeals/counts");
  const go = (next: { status?: string; overdue?: string }) => replaceQuery(["appeals"], next);
  return (
    <section aria-labelledby="appeals-title">
      <h1 id="appeals-title">Appeals</h1>
      <div className="tabs" role="group" aria-label="Appeal status">
        <button type="button" aria-pressed={!status && !overdue} onClick={() => go({})}>
          All
        </button>
        {appealStatuses.map((s) => (
          <button key={s} type="button" aria-pressed={status === s} onClick={() => go({ status: s })} data-status={s}>
            {s.replace("_", " ")} <span className="count">{counts.data?.counts[s] ?? "…"}</span>
          </button>
        ))}
        <button type="button" aria-pressed={!!overdue} onClick={() => go({ overdue: "true" })}>
          overdue <span className="count">{counts.data?.overdue ?? "…"}</span>
        </button>
      </div>
      {list.error && <Alert>{list.error.message}</Alert>}
      <Table columns={["Appeal", "Account", "Status", "Filed", "Decision due"]} label="Appeals">
        {(list.data?.items ?? []).map((a) => (
          <tr key={a.id}>
            <td>
              <a href={href(["appeals", a.id])}>{a.id}</a>
            </td>
            <td>{a.accountId}</td>
            <td>{a.status.replace("_", " ")}</td>
            <td>{fmtTime(a.submittedAt)}</td>
            <td className={a.overdue ? "overdue" : undefined}>
              {fmtTime(a.deadlineAt)}
              {a.overdue && " (overdue)"}
            </td>
          </tr>
        ))}
      </Table>
      {list.data && list.data.items.length === 0 && <p className="muted">No appeals here.</p>}
    </section>
  );
}

export function AppealPage({ id }: { id: string }) {
  const appeal = useApi<AppealView>(`/v1/appeals/${encodeURIComponent(id)}`);
  const statement = useApi<Statement>(appeal.data ? `/v1/statements/${encodeURIComponent(appeal.data.statementId)}` : null);
  const [note, setNote] = useState("");
  const [outcome, setOutcome] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const move = async (to: string) => {
    setBusy(true);
    setError("");
    try {
      await api("POST", `/v1/appeals/${encodeURIComponent(id)}/transitions`, { to, ...(note.trim() ? { note: note.trim() } : {}), ...(to === "reversed" && outcome ? { caseOutcome: outcome } : {}) });
      setNote("");
      await appeal.reload();
    } catch (err) {
      setError(err instanceof ApiError && err.errors.length ? err.errors.map((e) => `${e.path}: ${e.message}`).join("; ") : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const a = appeal.data;
  if (appeal.error) return <Alert>{appeal.error.message}</Alert>;
  if (!a) return <p className="muted">Loading…</p>;
  const open = a.status === "submitted" || a.status === "under_review";
  return (
    <section aria-labelledby="appeal-title">
      <p>
        <a href={href(["appeals"])}>← Appeals</a>
      </p>
      <h1 id="appeal-title">Appeal {a.id}</h1>
      <dl className="facts">
        <dt>Account</dt>
        <dd>{a.accountId}</dd>
        <dt>Status</dt>
        <dd data-testid="appeal-status">{a.status.replace("_", " ")}</dd>
        <dt>Case</dt>
        <dd>
          <a href={href(["cases", a.caseId])}>{a.caseId}</a>
        </dd>
        <dt>Decision due</dt>
        <dd>
          {fmtTime(a.deadlineAt)}
          {a.overdue && " (overdue)"}
        </dd>
        {a.reviewer && (
          <>
            <dt>Reviewer</dt>
            <dd>{a.reviewer}</dd>
          </>
        )}
        {a.decidedBy && (
          <>
            <dt>Decided</dt>
            <dd>
              {a.status} by {a.decidedBy} at {fmtTime(a.decidedAt!)}
              {a.caseOutcome && `, case ${a.caseOutcome}`}: {a.decisionNote}
            </dd>
          </>
        )}
      </dl>
      <h2>The holder's explanation</h2>
      <p className="explanation">{a.explanation}</p>
      {a.attachments.length > 0 && (
        <ul aria-label="Attachments">
          {a.attachments.map((x, i) => (
            <li key={i}>
              {x.name}: <code>{x.ref}</code>
            </li>
          ))}
        </ul>
      )}
      <h2>The statement it contests</h2>
      {statement.data ? <pre className="statement">{statement.data.text}</pre> : <p className="muted">Loading…</p>}
      {open && (
        <form className="decide" aria-label="Decide" onSubmit={(e: FormEvent) => e.preventDefault()}>
          <label htmlFor="appeal-note">Note (required to decide)</label>
          <textarea id="appeal-note" value={note} onChange={(e) => setNote(e.target.value)} rows={3} />
          <label htmlFor="appeal-outcome">If reversed, the case is</label>
          <select id="appeal-outcome" value={outcome} onChange={(e) => setOutcome(e.target.value)}>
            <option value="">the default (dismissed for its own account, unchanged for a linked one)</option>
            {caseOutcomes.map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
          <div className="filter-actions">
            {a.status === "submitted" && (
              <button type="button" disabled={busy} onClick={() => void move("under_review")}>
                Take under review
              </button>
            )}
            <button type="button" disabled={busy} onClick={() => void move("upheld")}>
              Uphold
            </button>
            <button type="button" disabled={busy} onClick={() => void move("reversed")}>
              Reverse
            </button>
          </div>
          {error && <Alert>{error}</Alert>}
        </form>
      )}
    </section>
  );
}
