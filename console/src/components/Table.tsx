// The console's two repeated pieces of markup: a data table (scrolls sideways on a narrow screen,
// column headers scoped for screen readers) and an error the page announces.
import type { ReactNode } from "react";

export function Table({ columns, className, caption, label, children }: { columns: ReactNode[]; className?: string; caption?: string; label?: string; children: ReactNode }) {
  return (
    <div className="table-wrap">
      <table className={className} aria-label={label}>
        {caption && <caption className="visually-hidden">{caption}</caption>}
        <thead>
          <tr>
            {columns.map((c, i) => (
              <th scope="col" key={i}>
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

export function Alert({ children }: { children: ReactNode }) {
  return (
    <p role="alert" className="error">
      {children}
    </p>
  );
}
