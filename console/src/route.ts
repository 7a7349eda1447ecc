// Hash routes (#/cases?status=open, #/cases/case_1, #/rules, #/rules/id): the page and its query
// live in the URL so reload, back and forward keep the analyst's place. The API key never does.
import { useEffect, useState } from "react";

export type Route = { path: string[]; query: URLSearchParams };

export function parseHash(hash: string): Route {
  const [p = "", q = ""] = hash.replace(/^#\/?/, "").split("?");
  return { path: p.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(q) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseHash(location.hash));
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

export function href(path: string[], query?: Record<string, string | undefined>): string {
  const q = new URLSearchParams(Object.entries(query ?? {}).filter((e): e is [string, string] => !!e[1])).toString();
  return `#/${path.map(encodeURIComponent).join("/")}${q ? `?${q}` : ""}`;
}

/** Replaces the query of the current page without a new history entry (filter edits). */
export function replaceQuery(path: string[], query: Record<string, string | undefined>): void {
  history.replaceState(null, "", href(path, query));
  dispatchEvent(new HashChangeEvent("hashchange"));
}
