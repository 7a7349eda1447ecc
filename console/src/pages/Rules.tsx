// Rules: the list, one rule with two of its versions side by side (a line diff of their JSON), and
// a backtest of a version over a chosen range (what it would have flagged; nothing is saved).
import { diffLines } from "diff";
import { useState, type FormEvent } from "react";
import { type ApiError, type BacktestResult, type RulePage, type RuleVersion, type RuleVersionPage, type RuleView, api } from "../api";
import { factLabel, fmtNumber, fmtOperator, fmtTime, fromLocalInput, toLocalInput } from "../format";
import { href } from "../route";
import { useApi } from "../useApi";
import { Alert, Table } from "../components/Table";

export function RulesList() {
  const rules = useApi<RulePage>("/v1/rules?limit=500");
  return (
    <section aria-labelledby="rules-title">
      <h1 id="rules-title">Rules</h1>
      {rules.error && <Alert>{rules.error.message}</Alert>}
      <Table columns={["Rule", "Name", "Severity", "Scope", "Clause", "Version", "Enabled"]}>
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
          </tr>
        ))}
      </Table>
    </section>
  );
}

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
