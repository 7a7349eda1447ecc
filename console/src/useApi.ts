// Loading state for one API read, re-run when its key changes; `reload` refreshes in place
// (the old data stays on screen meanwhile, so an auto-refresh never blanks the page).
import { useCallback, useEffect, useRef, useState } from "react";
import { type ApiError, api } from "./api";

export type Loaded<T> = { data?: T; error?: Error; loading: boolean; reload: () => Promise<void> };

export function useApi<T>(path: string | null): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: !!path });
  // Only the latest request may set the state: an older answer (a slow refresh, a path changed
  // and back) must not replace a newer one.
  const latest = useRef(0);
  const load = useCallback(async () => {
    if (!path) return;
    const mine = ++latest.current;
    setState((s) => ({ ...s, loading: true }));
    try {
      const data = await api<T>("GET", path);
      if (latest.current === mine) setState({ data, loading: false });
    } catch (error) {
      if (latest.current === mine) setState((s) => ({ ...s, error: error as Error, loading: false }));
    }
  }, [path]);
  useEffect(() => {
    setState({ loading: !!path });
    void load();
  }, [load, path]);
  return { ...state, reload: load };
}

/** Calls `f` every `ms` while `on`, and when the tab becomes visible again. */
export function useInterval(f: () => void, ms: number, on: boolean): void {
  const saved = useRef(f);
  saved.current = f;
  useEffect(() => {
    if (!on) return;
    const t = setInterval(() => document.visibilityState === "visible" && saved.current(), ms);
    const onVisible = () => document.visibilityState === "visible" && saved.current();
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      clearInterval(t);
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, [ms, on]);
}

export type ActionMessage = { kind: "ok" | "error"; text: string };

/**
 * An action against the API from a page: `busy` while it runs, then a message saying it was done
 * (`label`) or why the API refused it, with the fields it names; `after` runs once it succeeded
 * (a reload of what it changed).
 */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<ActionMessage>();
  const run = async (label: string, f: () => Promise<unknown>, after?: () => Promise<unknown> | void) => {
    setBusy(true);
    setMessage(undefined);
    try {
      await f();
      setMessage({ kind: "ok", text: label });
      await after?.();
    } catch (err) {
      const e = err as ApiError;
      const fields = e.errors?.length ? `: ${e.errors.map((x) => `${x.path} ${x.message}`).join("; ")}` : "";
      setMessage({ kind: "error", text: `Refused (${e.status ?? "network"}): ${e.message}${fields}` });
    } finally {
      setBusy(false);
    }
  };
  return { busy, message, run };
}
