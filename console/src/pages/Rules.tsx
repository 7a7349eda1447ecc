// Rules: the list, one rule with two of its versions side by side (a line diff of their JSON), and
// a backtest of a version over a chosen range (what it would have flagged; nothing is saved).
import { diffLines } from "diff";
import { useState, type FormEvent } from "react";
import {
  type ApiError,
  type BacktestResult,
  type QualityStats,
  type QualityStatsPage,
  type RulePage,
  type RuleVersion,
  type RuleVersionPage,
  type RuleView,
  type ShadowAccount,
  type ShadowReport,
  type ShadowView,
  api,
} from "../api";
import { factLabel, fmtNumber, fmtOperator, fmtTime, fromLocalInput, toLocalInput } from "../format";
import { href } from "../route";
import { useAction, useApi } from "../useApi";
import { Alert, Table } from "../components/Table";

export function RulesList() {
  const rules = useApi<RulePage>("/v1/rules?limit=500");
  // Quality from verdicts over the last 30 days (GET /v1/rule-stats): one read for every rule.
  const quality = useApi<QualityStatsPage>("/v1/rule-stats");
  const qualityOf = new Map((quality.data?.items ?? []).map((q) => [q.ruleId, q.total]));
  return (
    <section aria-labelledby="rules-title">
      <h1 id="rules-title">Rules</h1>
      {rules.error && <Alert>{rules.error.message}</Alert>}
      <Table columns={["Rule", "Name", "Severity", "Scope", "Clause", "Version", "Enabled", "Precision (30 d)", "Hits / 1,000 events"]}>
        {rules.data?.items.map((r) => (
          <tr key={r.id}>
            <td>
              <a href={href(["rules", r.id])}>{r.id}</a>
            </td>
            <td>{r.document.name}</td>
            <td>
              <span className={`sev sev-${r.document.severity}`}>{r.document.severity}</span>
            </td>
            <td>
              {r.document.scope}
              {r.document.window ? `, ${r.document.window}` : ""}
            </td>
            <td className="muted">{r.document.clause.ref}</td>
            <td className="num">{r.version}</td>
            <td>{r.enabled ? "yes" : "no"}</td>
            <td className="num" data-testid={`precision-${r.id}`} title={qualityTitle(qualityOf.get(r.id))}>
              {fmtShare(qualityOf.get(r.id)?.precision)}
            </td>
            <td className="num">{qualityOf.get(r.id)?.hitsPer1000Events?.toLocaleString("en-US", { maximumFractionDigits: 2 }) ?? "—"}</td>
          </tr>
        ))}
      </Table>
    </section>
  );
}

const fmtShare = (x: number | null | undefined) => (x === null || x === undefined ? "—" : x.toFixed(2));
const qualityTitle = (q?: QualityStats["total"]) =>
  q ? `${q.casesOpened} case(s) opened: ${q.confirmed} confirmed, ${q.dismissed} dismissed, ${q.enforced} enforced, ${q.reversedOnAppeal} reversed on appeal` : undefined;

type Row = { left?: string; right?: string; kind: "same" | "changed" | "removed" | "added" };

/** Side-by-side rows of a line diff: a removed run beside the added run that replaces it. */
export function sideBySide(a: string, b: string): Row[] {
  const rows: Row[] = [];
  const parts = diffLines(a, b);
  const lines = (v: string) => v.replace(/\n$/, "").split("\n");
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (!p.added && !p.removed) {
      for (const l of lines(p.value)) rows.push({ left: l, right: l, kind: "same" });
    } else if (p.removed && parts[i + 1]?.added) {
      const left = lines(p.value);
      const right = lines(parts[i + 1]!.value);
      for (let k = 0; k < Math.max(left.length, right.length); k++) rows.push({ left: left[k], right: right[k], kind: "changed" });
      i++;
    } else if (p.removed) {
      for (const l of lines(p.value)) rows.push({ left: l, kind: "removed" });
    } else {
      for (const l of lines(p.value)) rows.push({ right: l, kind: "added" });
    }
  }
  return rows;
}

export function RulePage({ id }: { id: string }) {
  const rule = useApi<RuleView>(`/v1/rules/${encodeURIComponent(id)}`);
  const versions = useApi<RuleVersionPage>(`/v1/rules/${encodeURIComponent(id)}/versions`);
  const all = versions.data?.items ?? [];
  const newest = all.reduce((n, v) => Math.max(n, v.version), 0);
  const [leftPick, setLeft] = useState<number>();
  const [rightPick, setRight] = useState<number>();
  const right = rightPick ?? newest;
  const left = leftPick ?? Math.max(1, right - 1);
  const doc = (v: number) => JSON.stringify(all.find((x) => x.version === v)?.document ?? {}, null, 2);
  const rows = all.length ? sideBySide(doc(left), doc(right)) : [];
  const changed = rows.filter((r) => r.kind !== "same").length;

  if (rule.error) {
    return <Alert>{rule.error.message}</Alert>;
  }
  const r = rule.data;
  return (
    <article aria-labelledby="rule-title">
      <p>
        <a href={href(["rules"])}>← Rules</a>
      </p>
      <h1 id="rule-title">{id}</h1>
      {r && (
        <>
          <p>
            <span className={`sev sev-${r.document.severity}`}>{r.document.severity}</span> {r.document.name}. Version {r.version}, {r.enabled ? "enabled" : "disabled"}, from {r.source}. Recommended
            action: {r.document.recommendedAction ?? "none"}.
          </p>
          <blockquote>
            <strong>{r.document.clause.ref}</strong>: “{r.document.clause.text}”
          </blockquote>
          {r.document.description && <p>{r.document.description}</p>}
        </>
      )}

      <section aria-labelledby="versions-title" className="panel">
        <h2 id="versions-title">Versions</h2>
        <div className="row wrap">
          <VersionSelect id="v-left" label="Left" versions={all} value={left} onChange={setLeft} />
          <VersionSelect id="v-right" label="Right" versions={all} value={right} onChange={setRight} />
          <span className="muted" aria-live="polite">
            {left === right ? "The same version on both sides." : `${changed} line(s) differ.`}
          </span>
        </div>
        <Table columns={[`version ${left}`, `version ${right}`]} className="diff" label={`Version ${left} beside version ${right}`}>
          {rows.map((row, i) => (
            <tr key={i} className={`diff-${row.kind}`}>
              <td className={row.kind === "removed" || row.kind === "changed" ? "del" : undefined}>
                <pre>{row.left ?? ""}</pre>
              </td>
              <td className={row.kind === "added" || row.kind === "changed" ? "ins" : undefined}>
                <pre>{row.right ?? ""}</pre>
              </td>
            </tr>
          ))}
        </Table>
      </section>

      <Quality id={id} />
      <Shadow id={id} versions={all.map((v) => v.version)} current={r?.version} onPromoted={() => void Promise.all([rule.reload(), versions.reload()])} />
      <Backtest id={id} versions={all.map((v) => v.version)} current={r?.version} />
    </article>
  );
}

function VersionSelect({ id, label, versions, value, onChange }: { id: string; label: string; versions: RuleVersion[]; value: number; onChange: (v: number) => void }) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(Number(e.target.value))}>
        {versions.map((v) => (
          <option key={v.version} value={v.version}>
            version {v.version} ({fmtTime(v.createdAt)}
            {v.createdBy ? `, ${v.createdBy}` : ""})
          </option>
        ))}
      </select>
    </div>
  );
}

function Backtest({ id, versions, current }: { id: string; versions: number[]; current?: number }) {
  const [from, setFrom] = useState(() => new Date(Date.now() - 7 * 86_400_000).toISOString());
  const [to, setTo] = useState(() => new Date().toISOString());
  const [version, setVersion] = useState<number>();
  const [result, setResult] = useState<BacktestResult>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setResult(undefined);
    try {
      setResult(await api<BacktestResult>("POST", `/v1/rules/${encodeURIComponent(id)}/backtest`, { from, to, ...(version ? { version } : {}) }));
    } catch (err) {
      const a = err as ApiError;
      setError(`${a.message}${a.errors?.length ? `: ${a.errors.map((f) => `${f.path} ${f.message}`).join("; ")}` : ""}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="backtest-title" className="panel">
      <h2 id="backtest-title">Backtest</h2>
      <p className="muted">Replays the stored events of the range through a version of this rule and lists what it would have flagged. No case is created.</p>
      <form onSubmit={submit} className="row wrap">
        <div className="field">
          <label htmlFor="bt-from">From</label>
          <input id="bt-from" type="datetime-local" required value={toLocalInput(from)} onChange={(e) => setFrom(fromLocalInput(e.target.value) ?? from)} />
        </div>
        <div className="field">
          <label htmlFor="bt-to">To</label>
          <input id="bt-to" type="datetime-local" required value={toLocalInput(to)} onChange={(e) => setTo(fromLocalInput(e.target.value) ?? to)} />
        </div>
        <div className="field">
          <label htmlFor="bt-version">Version</label>
          <select id="bt-version" value={version ?? ""} onChange={(e) => setVersion(e.target.value ? Number(e.target.value) : undefined)}>
            <option value="">current{current ? ` (${current})` : ""}</option>
            {versions.map((v) => (
              <option key={v} value={v}>
                version {v}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" disabled={busy}>
          {busy ? "Running…" : "Run backtest"}
        </button>
      </form>
      {error && <Alert>{error}</Alert>}
      {result && (
        <div aria-live="polite">
          <p data-testid="backtest-summary">
            {result.accountsEvaluated.toLocaleString("en-US")} account(s) evaluated, {result.hits.length} would have been flagged.
          </p>
          {result.hits.length > 0 && (
            <Table columns={["Account", "First hit", "Hits", "Sample evidence"]}>
              {result.hits.map((h) => (
                <tr key={h.accountId}>
                  <td>
                    <a href={href(["cases"], { accountId: h.accountId })}>{h.accountId}</a>
                  </td>
                  <td>{fmtTime(h.firstHitAt)}</td>
                  <td className="num">{h.hitCount.toLocaleString("en-US")}</td>
                  <td>
                    {h.sampleEvidence.conditions
                      .filter((c) => c.result !== null)
                      .map((c) => `${factLabel(c)} = ${fmtNumber(c.factValue)} ${fmtOperator(c.operator)} ${fmtNumber(c.value)}`)
                      .join("; ")}
                  </td>
                </tr>
              ))}
            </Table>
          )}
        </div>
      )}
    </section>
  );
}

/** Rule quality from verdicts over the last 30 days, per version that opened the cases. */
function Quality({ id }: { id: string }) {
  const stats = useApi<QualityStats>(`/v1/rules/${encodeURIComponent(id)}/stats`);
  if (stats.error) return <Alert>{stats.error.message}</Alert>;
  const q = stats.data;
  return (
    <section aria-labelledby="quality-title" className="panel">
      <h2 id="quality-title">Quality (30 days)</h2>
      {q && (
        <Table columns={["Version", "Cases", "Confirmed", "Dismissed", "Enforced", "Reversed", "Precision", "Median hours to decision", "Hits", "Suppressed", "Hits / 1,000 events"]}>
          {[q.total, ...q.versions].map((v) => (
            <tr key={v.version ?? "all"}>
              <td>{v.version === null ? "all" : `version ${v.version}`}</td>
              <td className="num">{v.casesOpened}</td>
              <td className="num">{v.confirmed}</td>
              <td className="num">{v.dismissed}</td>
              <td className="num">{v.enforced}</td>
              <td className="num">{v.reversedOnAppeal}</td>
              <td className="num">{fmtShare(v.precision)}</td>
              <td className="num">{v.medianHoursToDecision ?? "—"}</td>
              <td className="num">{v.hits.toLocaleString("en-US")}</td>
              <td className="num">{v.suppressedHits.toLocaleString("en-US")}</td>
              <td className="num">{v.hitsPer1000Events ?? "—"}</td>
            </tr>
          ))}
        </Table>
      )}
    </section>
  );
}

/** A candidate version run live beside the active one: start it, read its report, promote or stop it. */
function Shadow({ id, versions, current, onPromoted }: { id: string; versions: number[]; current?: number; onPromoted: () => void }) {
  const base = `/v1/rules/${encodeURIComponent(id)}/shadow`;
  const shadow = useApi<ShadowView>(base);
  const running = shadow.data?.running ? shadow.data : undefined;
  const report = useApi<ShadowReport>(shadow.data ? `${base}/report?shadowId=${encodeURIComponent(shadow.data.id)}` : null);
  const candidates = versions.filter((v) => v !== current);
  const [version, setVersion] = useState<number>();
  const [reason, setReason] = useState("");
  const action = useAction();
  const { busy, message } = action;
  const run = (label: string, f: () => Promise<unknown>) => action.run(label, f, () => shadow.reload());
  const chosen = version ?? candidates[candidates.length - 1];
  const start = (e: FormEvent) => {
    e.preventDefault();
    if (chosen !== undefined) void run(`Version ${chosen} runs in shadow.`, () => api("POST", base, { version: chosen }));
  };
  const promote = (e: FormEvent) => {
    e.preventDefault();
    void run(`Version ${running?.version} promoted.`, async () => {
      await api("POST", `${base}/promote`, { reason: reason.trim() });
      setReason("");
      onPromoted();
    });
  };
  const r = report.data;
  return (
    <section aria-labelledby="shadow-title" className="panel">
      <h2 id="shadow-title">Shadow</h2>
      <p className="muted">A version in shadow is judged on live traffic beside the active one; its hits open no case. Compare, then promote it or stop it.</p>
      {running ? (
        <p data-testid="shadow-status">
          Version {running.version} runs in shadow beside version {running.baseVersion ?? "—"} since {fmtTime(running.startedAt)}
          {running.endsAt ? `, until ${fmtTime(running.endsAt)}` : ""}, started by {running.startedBy}.
        </p>
      ) : (
        <form onSubmit={start} className="row wrap">
          {shadow.data && (
            <span className="muted" data-testid="shadow-status">
              The last shadow (version {shadow.data.version}) was {shadow.data.outcome ?? "ended"}
              {shadow.data.stoppedAt ? ` ${fmtTime(shadow.data.stoppedAt)}` : ""}.
            </span>
          )}
          <div className="field">
            <label htmlFor="shadow-version">Candidate</label>
            <select id="shadow-version" value={chosen ?? ""} onChange={(e) => setVersion(Number(e.target.value))}>
              {candidates.map((v) => (
                <option key={v} value={v}>
                  version {v}
                </option>
              ))}
            </select>
          </div>
          <button type="submit" disabled={busy || chosen === undefined}>
            Run in shadow
          </button>
        </form>
      )}
      {r && (
        <div aria-live="polite">
          <p data-testid="shadow-totals">
            Candidate: {r.totals.candidateHits} hit(s); active: {r.totals.activeHits}. Accounts hit only by the candidate: {r.totals.onlyCandidate}, only by the active version:{" "}
            {r.totals.onlyActive}, by both: {r.totals.both}
            {r.totals.suppressedHits ? `; ${r.totals.suppressedHits} hit(s) suppressed` : ""}.
          </p>
          <Table columns={["Account", "Only", "Candidate hits", "Active hits", "Newest candidate evidence"]} label="Accounts of the shadow report">
            {([
              ["candidate", r.onlyCandidate],
              ["active", r.onlyActive],
              ["both", r.both],
            ] as [string, ShadowAccount[]][]).flatMap(([group, list]) =>
              list.map((a) => (
                <tr key={`${group}-${a.accountId}`}>
                  <td>
                    <a href={href(["cases"], { accountId: a.accountId })}>{a.accountId}</a>
                  </td>
                  <td>{group}</td>
                  <td className="num">{a.candidateHits}</td>
                  <td className="num">{a.activeHits}</td>
                  <td>
                    {a.sample.candidate?.conditions
                      .filter((c) => c.result !== null)
                      .map((c) => `${factLabel(c)} = ${fmtNumber(c.factValue)} ${fmtOperator(c.operator)} ${fmtNumber(c.value)}`)
                      .join("; ") ?? "—"}
                  </td>
                </tr>
              )),
            )}
          </Table>
        </div>
      )}
      {running && (
        <form onSubmit={promote} className="row wrap">
          <div className="field">
            <label htmlFor="promote-reason">Why promote it</label>
            <input id="promote-reason" value={reason} onChange={(e) => setReason(e.target.value)} required />
          </div>
          <button type="submit" disabled={busy || !reason.trim()}>
            Promote version {running.version}
          </button>
          <button type="button" className="secondary" disabled={busy} onClick={() => void run("Shadow stopped.", () => api("DELETE", base))}>
            Stop shadow
          </button>
        </form>
      )}
      <div aria-live="polite">{message && <p className={message.kind === "error" ? "error" : "ok"} role={message.kind === "error" ? "alert" : "status"}>{message.text}</p>}</div>
    </section>
  );
}
