// Jest's order on a fresh clone (CI's case: no timings cached) is by file size, which put the two
// slowest suites, the policy pack's scenario and the fault injection (about 3 minutes each), one
// after the other at the end of the run, with the other worker idle. The suites known to be slow
// go first, slowest first, so the two workers finish together; the rest keep jest's own order
// (failed first, then by cached duration or size).
const Sequencer = require("@jest/test-sequencer").default;

/** Slowest first; file names as they end. */
const slowSuites = ["policy-pack.e2e.test.ts", "faults.e2e.test.ts", "process.test.ts", "rule-lifecycle.e2e.test.ts", "window-reads.e2e.test.ts", "fuzz.e2e.test.ts", "console.e2e.test.ts", "demo.e2e.test.ts", "backup.e2e.test.ts"];

class SlowFirstSequencer extends Sequencer {
  sort(tests) {
    const rank = (test) => {
      const i = slowSuites.findIndex((name) => test.path.endsWith(name));
      return i === -1 ? slowSuites.length : i;
    };
    // Array.prototype.sort is stable: within a rank, jest's order stays.
    return Promise.resolve(super.sort(tests)).then((sorted) => [...sorted].sort((a, b) => rank(a) - rank(b)));
  }
}

module.exports = SlowFirstSequencer;
