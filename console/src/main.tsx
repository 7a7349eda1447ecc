// The analyst console: sign in with an API key, then the case queue, a case, the appeals, the rules.
import { StrictMode, useEffect, useState, type FormEvent } from "react";
import { createRoot } from "react-dom/client";
import { ApiError, api, session, whenUnauthorized } from "./api";
import { CasePage } from "./pages/CasePage";
import { Queue } from "./pages/Queue";
import { AppealPage, AppealsQueue } from "./pages/Appeals";
import { RulePage, RulesList } from "./pages/Rules";
import { href, useRoute } from "./route";
import "uplot/dist/uPlot.min.css";
import "./styles.css";
import { Alert } from "./components/Table";

function SignIn({ onSignedIn, reason }: { onSignedIn: () => void; reason?: string }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState(reason ?? "");
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      // The cheapest call that needs cases:read, the scope an analyst must have.
      await api("GET", "/v1/cases?limit=1", undefined, key.trim());
      session.signIn(key.trim());
      onSignedIn();
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? "That key is not valid (unknown, revoked or expired)." : err instanceof ApiError && err.status === 403 ? "That key lacks the cases:read scope." : String((err as Error).message));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="signin">
      <h1>ClauseGuard</h1>
      <form onSubmit={submit}>
        <label htmlFor="api-key">API key</label>
        <input id="api-key" name="api-key" type="password" autoComplete="off" aria-describedby="signin-help" required value={key} onChange={(e) => setKey(e.target.value)} autoFocus />
        <p id="signin-help" className="muted">
          A key with <code>cases:read</code> (and <code>cases:write</code> to act, <code>rules:read</code> for rules). It stays in this tab's session storage and is sent only in the
          Authorization header.
        </p>
        <button type="submit" disabled={busy || !key.trim()}>
          {busy ? "Checking…" : "Sign in"}
        </button>
        {error && <Alert>{error}</Alert>}
      </form>
    </main>
  );
}

function App() {
  const [signedIn, setSignedIn] = useState(() => !!session.key());
  const [reason, setReason] = useState<string>();
  const route = useRoute();
  useEffect(() => {
    whenUnauthorized(() => {
      session.signOut();
      setReason("Your key was refused (revoked or expired): sign in again.");
      setSignedIn(false);
    });
  }, []);
  if (!signedIn) return <SignIn reason={reason} onSignedIn={() => setSignedIn(true)} />;

  const [section = "cases", id] = route.path;
  let page;
  if (section === "rules" && id) page = <RulePage id={id} />;
  else if (section === "rules") page = <RulesList />;
  else if (section === "cases" && id) page = <CasePage key={id} id={id} />;
  else if (section === "appeals" && id) page = <AppealPage key={id} id={id} />;
  else if (section === "appeals") page = <AppealsQueue query={route.query} />;
  else page = <Queue query={route.query} />;
  return (
    <>
      <a className="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById("main")?.focus())}>
        Skip to content
      </a>
      <header className="top">
        <span className="brand">ClauseGuard</span>
        <nav aria-label="Sections">
          <a href={href(["cases"])} aria-current={section === "cases" ? "page" : undefined}>
            Cases
          </a>
          <a href={href(["appeals"])} aria-current={section === "appeals" ? "page" : undefined}>
            Appeals
          </a>
          <a href={href(["rules"])} aria-current={section === "rules" ? "page" : undefined}>
            Rules
          </a>
        </nav>
        <button
          type="button"
          className="link"
          onClick={() => {
            session.signOut();
            setReason(undefined);
            setSignedIn(false);
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {page}
      </main>
    </>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
