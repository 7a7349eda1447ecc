// One case as an analyst works it: what rule and clause, the evidence condition by condition, the
// account's usage over the window, the events the facts came from, the linked accounts with their
// own status and cases, the timeline, and the actions the API allows from the case's status.
import { useEffect, useState, type FormEvent, type ReactNode } from "react";
import { type AccountView, ApiError, type CaseDetail, type EnforcementAction, type EventPage, type StoredEvent, type UsageSeries, api, qs } from "../api";
import { UsageChart } from "../components/UsageChart";
import { factLabel, fmtNumber, fmtOperator, fmtTime, fromLocalInput, toLocalInput, windowMs } from "../format";
import { href } from "../route";
import { useAction, useApi } from "../useApi";
import { Alert, Table } from "../components/Table";

const hourMs = 3_600_000;
const maxSpanMs = 31 * 24 * hourMs;
const linkedShown = 30;

export function CasePage({ id }: { id: string }) {
  const kase = useApi<CaseDetail>(`/v1/cases/${encodeURIComponent(id)}`);
  const c = kase.data;
  const account = useApi<AccountView>(c ? `/v1/accounts/${encodeURIComponent(c.accountId)}` : null);
  const [evidenceIndex, setEvidenceIndex] = useState(0);
  const evidence = c?.evidence[evidenceIndex];

  // The chart spans the evidence's window (at least a day) up to the hour after the hit.
  const chartTo = evidence ? new Date(Math.ceil((Date.parse(evidence.occurredAt) + 1) / hourMs) * hourMs) : undefined;
  const chartFrom = chartTo && evidence ? new Date(chartTo.getTime() - Math.min(maxSpanMs, Math.max(24 * hourMs, windowMs(evidence.window) + hourMs))) : undefined;
  const usage = useApi<UsageSeries>(c && chartFrom && chartTo ? `/v1/accounts/${encodeURIComponent(c.accountId)}/usage${qs({ from: chartFrom.toISOString(), to: chartTo.toISOString() })}` : null);
  const events = useApi<EventPage>(evidence?.eventIds.length ? `/v1/events${qs({ eventId: evidence.eventIds.slice(0, 50), limit: 50 })}` : null);

  const refresh = async () => {
    await Promise.all([kase.reload(), account.reload()]);
  };

  if (kase.error) {
    return (
      <section>
        <h1>Case {id}</h1>
        <Alert>{kase.error.message}</Alert>
        <a href={href(["cases"])}>Back to the queue</a>
      </section>
    );
  }
  if (!c) return <p aria-live="polite">Loading case…</p>;

  return (
    <article aria-labelledby="case-title" className="case">
      <p>
        <a href={href(["cases"])}>← Queue</a>
      </p>
      <h1 id="case-title">
        {c.ruleId} <span className="muted">on</span> {c.accountId}
      </h1>
      <div className="badges">
        <span className={`sev sev-${c.severity}`}>{c.severity}</span>
        <span className={`status status-${c.status}`} data-testid="case-status">
          {c.status}
        </span>
        <span>
          account{" "}
          <strong className={`acct acct-${account.data?.status ?? "unknown"}`} data-testid="account-status">
            {account.data?.status ?? "…"}
          </strong>
          {account.data?.statusSince && account.data.status !== "active" && <span className="muted"> since {fmtTime(account.data.statusSince)}</span>}
        </span>
      </div>

      <div className="grid">
        <section aria-labelledby="summary-title" className="panel">
          <h2 id="summary-title">Clause and rule</h2>
          <blockquote>
            <strong>{c.clause.ref}</strong>: “{c.clause.text}”
          </blockquote>
          <dl className="facts">
            <dt>Rule</dt>
            <dd>
              <a href={href(["rules", c.ruleId])}>{c.ruleId}</a> version {c.ruleVersion}
            </dd>
            <dt>Hits</dt>
            <dd>{c.hitCount.toLocaleString("en-US")}</dd>
            <dt>First seen</dt>
            <dd>{fmtTime(c.firstSeenAt)}</dd>
            <dt>Last seen</dt>
            <dd>{fmtTime(c.lastSeenAt)}</dd>
            <dt>Assignee</dt>
            <dd>{c.assignee ?? "—"}</dd>
          </dl>
        </section>
        <Actions kase={c} onChanged={refresh} />
      </div>

      <section aria-labelledby="evidence-title" className="panel">
        <h2 id="evidence-title">Evidence</h2>
        {c.evidence.length > 1 && (
          <div className="field">
            <label htmlFor="evidence-hit">Hit</label>
            <select id="evidence-hit" value={evidenceIndex} onChange={(e) => setEvidenceIndex(Number(e.target.value))}>
              {c.evidence.map((e, i) => (
                <option key={e.recordedAt + e.triggerEventId} value={i}>
                  {fmtTime(e.occurredAt)} (version {e.ruleVersion})
                </option>
              ))}
            </select>
          </div>
        )}
        {evidence ? (
          <>
            <p className="muted">
              Window {evidence.window} ending {fmtTime(evidence.occurredAt)}, triggered by event <code>{evidence.triggerEventId}</code>, rule version {evidence.ruleVersion}.
            </p>
            <Table columns={["Condition", "Fact value", "Threshold", "Result"]} className="conditions">
              {evidence.conditions.map((cond) => (
                <tr key={cond.path}>
                  <th scope="row">
                    <code>{factLabel(cond)}</code>
                  </th>
                  <td className="num">{fmtNumber(cond.factValue)}</td>
                  <td className="num">
                    {fmtOperator(cond.operator)} {fmtNumber(cond.value)}
                  </td>
                  <td>{cond.result === null ? <span className="muted">not evaluated</span> : cond.result ? <span className="pass">✓ met</span> : <span className="fail">✗ not met</span>}</td>
                </tr>
              ))}
            </Table>
          </>
        ) : (
          <p className="muted">No evidence recorded.</p>
        )}
      </section>

      <section aria-labelledby="usage-title" className="panel">
        <h2 id="usage-title">Usage over the window</h2>
        {usage.error && <p className="error">{usage.error.message}</p>}
        {usage.data && chartFrom && chartTo ? (
          <UsageChart points={usage.data.items} from={chartFrom.toISOString()} to={chartTo.toISOString()} title={`${c.accountId}, per hour, ${fmtTime(chartFrom.toISOString())} to ${fmtTime(chartTo.toISOString())}`} />
        ) : (
          !usage.error && <p className="muted">Loading usage…</p>
        )}
      </section>

      <section aria-labelledby="events-title" className="panel">
        <h2 id="events-title">Contributing events</h2>
        <ContributingEvents ids={evidence?.eventIds ?? []} loaded={events.data?.items} error={events.error} />
      </section>

      <Suppression account={account.data} />

      {/* Re-read after every change to the case: enforcing may have acted on the linked accounts too. */}
      <LinkedAccounts ids={c.linkedAccounts} changes={c.timeline.length} />

      <section aria-labelledby="timeline-title" className="panel">
        <h2 id="timeline-title">Timeline</h2>
        <ol className="timeline">
          {c.timeline.map((t, i) => (
            <li key={i}>
              <time dateTime={t.at}>{fmtTime(t.at)}</time> <strong>{t.kind}</strong>
              {t.from || t.to ? (
                <span>
                  {" "}
                  {t.from ?? "—"} → {t.to ?? "—"}
                </span>
              ) : null}{" "}
              <span className="muted">by {t.actor}</span>
              {t.note && <p className="note">{t.note}</p>}
            </li>
          ))}
        </ol>
      </section>
    </article>
  );
}

function ContributingEvents({ ids, loaded, error }: { ids: string[]; loaded?: StoredEvent[]; error?: Error }) {
  if (ids.length === 0) return <p className="muted">The evidence names no events.</p>;
  if (error) return <p className="error">{error.message}</p>;
  if (!loaded) return <p className="muted">Loading events…</p>;
  const missing = ids.length - loaded.length;
  return (
    <>
      <Table columns={["Time", "Event", "Model", "In / out tokens", "Country", "IP", "Template", "Signals"]}>
        {loaded.map((e) => (
          <tr key={e.eventId}>
            <td>{fmtTime(e.occurredAt)}</td>
            <td>
              <code>{e.eventId}</code>
            </td>
            <td>{e.model ?? "—"}</td>
            <td className="num">
              {fmtNumber(e.inputTokens)} / {fmtNumber(e.outputTokens)}
            </td>
            <td>{e.country ?? "—"}</td>
            <td>{e.ip ?? "—"}</td>
            <td>{e.promptTemplateHash ? <code>{e.promptTemplateHash.slice(0, 12)}</code> : "—"}</td>
            <td>
              {Object.entries(e.signals ?? {})
                .map(([k, v]) => `${k}=${String(v)}`)
                .join(", ") || "—"}
            </td>
          </tr>
        ))}
      </Table>
      {missing > 0 && <p className="muted">{missing} of the {ids.length} events are no longer stored (raw-event retention); the rollups and this evidence keep their numbers.</p>}
    </>
  );
}

function LinkedAccounts({ ids, changes }: { ids: string[]; changes: number }) {
  const shown = ids.slice(0, linkedShown);
  const shownKey = shown.join(",");
  const [views, setViews] = useState<Record<string, AccountView | string>>({});
  useEffect(() => {
    let live = true;
    for (const id of shownKey.split(",").filter(Boolean)) {
      api<AccountView>("GET", `/v1/accounts/${encodeURIComponent(id)}`)
        .then((v) => live && setViews((s) => ({ ...s, [id]: v })))
        .catch((err: Error) => live && setViews((s) => ({ ...s, [id]: err instanceof ApiError && err.status === 404 ? "not seen" : err.message })));
    }
    return () => {
      live = false;
    };
  }, [shownKey, changes]);
  return (
    <section aria-labelledby="linked-title" className="panel">
      <h2 id="linked-title">Linked accounts ({ids.length})</h2>
      {ids.length === 0 ? (
        <p className="muted">None linked when the case was last hit.</p>
      ) : (
        <ul className="linked">
          {shown.map((id) => {
            const v = views[id];
            let detail: ReactNode = <span className="muted">…</span>;
            if (typeof v === "string") detail = <span className="muted">{v}</span>;
            else if (v)
              detail = (
                <>
                  <span className={`acct acct-${v.status}`}>{v.status}</span>{" "}
                  {v.openCases.length === 0 ? (
                    <span className="muted">no open case</span>
                  ) : (
                    v.openCases.map((oc) => (
                      <a key={oc.id} href={href(["cases", oc.id])} className="chip">
                        {oc.ruleId} ({oc.status})
                      </a>
                    ))
                  )}
                </>
              );
            return (
              <li key={id}>
                <a href={href(["cases"], { accountId: id })}>{id}</a> {detail}
              </li>
            );
          })}
          {ids.length > shown.length && <li className="muted">and {ids.length - shown.length} more</li>}
        </ul>
      )}
    </section>
  );
}

/** Assign, note, move and enforce, offering only what the API allows from the case's status. */
function Actions({ kase, onChanged }: { kase: CaseDetail; onChanged: () => Promise<void> }) {
  const [assignee, setAssignee] = useState(kase.assignee ?? "");
  const [note, setNote] = useState("");
  const [action, setAction] = useState<EnforcementAction>("suspend");
  const [linkedBy, setLinkedBy] = useState("");
  const [snoozeUntil, setSnoozeUntil] = useState(() => new Date(Date.now() + 7 * 86_400_000).toISOString());
  const moves = kase.allowedTransitions.filter((t) => t.to !== "enforced");
  const canEnforce = kase.allowedTransitions.some((t) => t.to === "enforced");
  const act = useAction();
  const { busy, message } = act;
  const run = (label: string, f: () => Promise<unknown>) =>
    act.run(label, f, async () => {
      setNote("");
      await onChanged();
    });
  const base = `/v1/cases/${encodeURIComponent(kase.id)}`;
  const assign = (e: FormEvent) => {
    e.preventDefault();
    void run(assignee.trim() ? `Assigned to ${assignee.trim()}.` : "Unassigned.", () => api("PATCH", base, { assignee: assignee.trim() || null }));
  };

  return (
    <section aria-labelledby="actions-title" className="panel actions">
      <h2 id="actions-title">Actions</h2>
      <form onSubmit={assign} className="row">
        <label htmlFor="assignee">Assignee</label>
        <input id="assignee" value={assignee} onChange={(e) => setAssignee(e.target.value)} placeholder="nobody" />
        <button type="submit" disabled={busy}>
          Assign
        </button>
      </form>
      <label htmlFor="note">Note</label>
      <textarea id="note" rows={3} value={note} onChange={(e) => setNote(e.target.value)} aria-describedby="note-help" />
      <p id="note-help" className="muted">
        Goes on the timeline. Dismissing, resolving and enforcing need one.
      </p>
      <div className="row wrap">
        <button type="button" disabled={busy || !note.trim()} onClick={() => void run("Note added.", () => api("POST", `${base}/notes`, { note: note.trim() }))}>
          Add note
        </button>
        {moves.map((t) => (
          <button
            key={t.to}
            type="button"
            className={t.to === "dismissed" ? "secondary" : undefined}
            disabled={busy || (t.noteRequired && !note.trim())}
            title={t.noteRequired && !note.trim() ? "Write a note first" : undefined}
            onClick={() => void run(`Moved to ${t.to}.`, () => api("POST", `${base}/transitions`, note.trim() ? { to: t.to, note: note.trim() } : { to: t.to }))}
          >
            {t.to === "open" ? "Reopen" : `Move to ${t.to}`}
          </button>
        ))}
        {moves.length === 0 && !canEnforce && <span className="muted">No move is allowed from {kase.status}.</span>}
      </div>
      {canEnforce && (
        <fieldset className="enforce">
          <legend>Enforce on the account</legend>
          <div className="field">
            <label htmlFor="enforce-action">Action</label>
            <select id="enforce-action" value={action} onChange={(e) => setAction(e.target.value as EnforcementAction)}>
              <option value="suspend">suspend</option>
              <option value="restrict">restrict</option>
            </select>
          </div>
          <div className="field">
            <label htmlFor="enforce-linked">Also linked accounts</label>
            <select id="enforce-linked" value={linkedBy} onChange={(e) => setLinkedBy(e.target.value)}>
              <option value="">no</option>
              <option value="any">linked by anything</option>
              <option value="paymentFingerprint">same payment method</option>
              <option value="ipPrefix">same /24 network</option>
              <option value="orgId">same org</option>
            </select>
          </div>
          <button
            type="button"
            className="danger"
            disabled={busy || !note.trim()}
            title={!note.trim() ? "Enforcing needs a note" : undefined}
            onClick={() =>
              void run(`Account ${action === "suspend" ? "suspended" : "restricted"}.`, () =>
                api("POST", `${base}/enforce`, { action, note: note.trim(), ...(linkedBy ? { includeLinked: { by: linkedBy } } : {}) }),
              )
            }
          >
            Enforce ({action})
          </button>
        </fieldset>
      )}
      <fieldset className="snooze">
        <legend>Snooze this rule for the account</legend>
        <p className="muted">Its hits of this account are kept as suppressed, not added to a case, until then. The note is the reason.</p>
        <div className="field">
          <label htmlFor="snooze-until">Until</label>
          <input id="snooze-until" type="datetime-local" required value={toLocalInput(snoozeUntil)} onChange={(e) => setSnoozeUntil(fromLocalInput(e.target.value) ?? snoozeUntil)} />
        </div>
        <button
          type="button"
          className="secondary"
          disabled={busy || !note.trim()}
          title={!note.trim() ? "Write the reason as a note first" : undefined}
          onClick={() => void run(`Snoozed until ${fmtTime(snoozeUntil)}.`, () => api("POST", `${base}/snooze`, { until: snoozeUntil, reason: note.trim() }))}
        >
          Snooze
        </button>
      </fieldset>
      <div aria-live="polite">{message && <p className={message.kind === "error" ? "error" : "ok"} role={message.kind === "error" ? "alert" : "status"}>{message.text}</p>}</div>
    </section>
  );
}

/** What holds the account's hits back (allow entries, snoozes) and the hits it held back. */
function Suppression({ account }: { account?: AccountView }) {
  const s = account?.suppression;
  if (!s || (s.allowEntries.length === 0 && s.snoozes.length === 0 && s.suppressedHits.length === 0)) return null;
  return (
    <section aria-labelledby="suppression-title" className="panel">
      <h2 id="suppression-title">Suppressed on this account</h2>
      <ul data-testid="suppressions">
        {s.snoozes.map((z) => (
          <li key={z.id}>
            Snooze of <strong>{z.ruleId}</strong> until {fmtTime(z.until)} by {z.createdBy}: {z.reason}
          </li>
        ))}
        {s.allowEntries.map((a) => (
          <li key={a.id}>
            Allowed by {a.kind} {a.value} for {a.ruleId ?? "every rule"} until {fmtTime(a.expiresAt)}: {a.reason}
          </li>
        ))}
      </ul>
      {s.suppressedHits.length > 0 && (
        <Table columns={["Hit", "Rule", "Suppressed by"]} label="Suppressed hits">
          {s.suppressedHits.map((h, i) => (
            <tr key={i}>
              <td>{fmtTime(h.occurredAt)}</td>
              <td>
                {h.ruleId} v{h.ruleVersion}
              </td>
              <td>
                {h.suppressedBy?.type}: {h.suppressedBy?.reason}
              </td>
            </tr>
          ))}
        </Table>
      )}
    </section>
  );
}
