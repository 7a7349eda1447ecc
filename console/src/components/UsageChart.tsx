// An account's usage per hour over a case's window (uPlot): requests and output tokens on their own
// axes, each signal's rate (share of the hour's requests raising it) on a 0-100% axis. Hours
// without traffic are drawn as zero, so bursts and silences read at a glance. A table with the
// same numbers follows for screen readers and for copying.
import { useEffect, useMemo, useRef, useState } from "react";
import uPlot from "uplot";
import type { UsagePoint } from "../api";
import { Table } from "./Table";

const hourMs = 3_600_000;
const palette = ["#c2410c", "#7c3aed", "#0f766e", "#be185d", "#4d7c0f", "#1d4ed8"];

export function UsageChart({ points, from, to, title }: { points: UsagePoint[]; from: string; to: string; title: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(800);
  const { data, signals } = useMemo(() => {
    const start = Math.floor(Date.parse(from) / hourMs) * hourMs;
    const end = Date.parse(to);
    const byHour = new Map(points.map((p) => [Date.parse(p.hour), p]));
    const signalNames = [...new Set(points.flatMap((p) => Object.keys(p.signalRates)))].sort();
    const xs: number[] = [];
    const requests: number[] = [];
    const output: number[] = [];
    const rates: number[][] = signalNames.map(() => []);
    for (let t = start; t < end; t += hourMs) {
      const p = byHour.get(t);
      xs.push(t / 1000);
      requests.push(p?.requests ?? 0);
      output.push(p?.outputTokens ?? 0);
      signalNames.forEach((s, i) => rates[i]!.push((p?.signalRates[s] ?? 0) * 100));
    }
    return { data: [xs, requests, output, ...rates] as uPlot.AlignedData, signals: signalNames };
  }, [points, from, to]);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(([entry]) => entry && setWidth(Math.max(280, Math.floor(entry.contentRect.width))));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    // On a narrow screen the axes keep their ticks but drop their titles, leaving the plot its width.
    const narrow = width < 560;
    const plot = new uPlot(
      {
        width,
        height: 260,
        // The legend's click-to-hide is mouse-only; the table below holds the same numbers.
        legend: { show: false },
        scales: { x: { time: true }, req: { auto: true }, tok: { auto: true }, pct: { range: [0, 100] } },
        axes: [
          {},
          { scale: "req", label: narrow ? undefined : "requests / h", size: narrow ? 40 : 60 },
          { scale: "tok", label: narrow ? undefined : "output tokens / h", side: 1, size: narrow ? 50 : 70, grid: { show: false } },
          { scale: "pct", label: narrow ? undefined : "signal %", side: 1, size: narrow ? 34 : 50, grid: { show: false } },
        ],
        series: [
          {},
          { label: "requests", scale: "req", stroke: "#2563eb", fill: "rgba(37,99,235,0.12)", width: 2 },
          { label: "output tokens", scale: "tok", stroke: "#0f172a", width: 1.5, dash: [6, 4] },
          ...signals.map((s, i) => ({ label: `${s} %`, scale: "pct", stroke: palette[i % palette.length], width: 1.5 })),
        ],
      },
      data,
      el,
    );
    return () => plot.destroy();
  }, [data, signals, width]);

  const total = points.reduce((n, p) => n + p.requests, 0);
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} role="img" aria-label={`${title}: ${total.toLocaleString("en-US")} requests in ${points.length} active hours`} />
      <ul className="legend" aria-label="Series">
        <li>
          <span className="swatch" style={{ background: "#2563eb" }} /> requests per hour (left axis)
        </li>
        <li>
          <span className="swatch dashed" style={{ borderColor: "#0f172a" }} /> output tokens per hour
        </li>
        {signals.map((s, i) => (
          <li key={s}>
            <span className="swatch" style={{ background: palette[i % palette.length] }} /> {s}: share of requests raising it (%)
          </li>
        ))}
      </ul>
      <details>
        <summary>The numbers ({points.length} active hours)</summary>
        <Table columns={["Hour", "Requests", "Output tokens", ...signals]}>
          {points.map((p) => (
            <tr key={p.hour}>
              <td>{new Date(p.hour).toLocaleString("en-GB", { dateStyle: "short", timeStyle: "short" })}</td>
              <td className="num">{p.requests.toLocaleString("en-US")}</td>
              <td className="num">{p.outputTokens.toLocaleString("en-US")}</td>
              {signals.map((s) => (
                <td className="num" key={s}>
                  {Math.round((p.signalRates[s] ?? 0) * 100)}%
                </td>
              ))}
            </tr>
          ))}
        </Table>
      </details>
    </figure>
  );
}
