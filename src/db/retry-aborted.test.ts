// retryAborted: a transaction PostgreSQL aborted (deadlock victim, serialization failure) runs
// again; any other error, and the last failed attempt, reach the caller unchanged.
import { retryAborted } from "./database";

const failing = (codes: string[]) => {
  let calls = 0;
  const fn = async () => {
    const code = codes[calls++];
    if (code) throw Object.assign(new Error(`failed with ${code}`), { code });
    return "stored";
  };
  return { fn, calls: () => calls };
};

describe("retryAborted", () => {
  it("runs a deadlock victim and a serialization failure again until it commits", async () => {
    const f = failing(["40P01", "40001"]);
    await expect(retryAborted(f.fn)).resolves.toBe("stored");
    expect(f.calls()).toBe(3);
  });

  it("gives up after the last attempt with the database's error", async () => {
    const f = failing(["40P01", "40P01", "40P01", "40P01"]);
    await expect(retryAborted(f.fn, 3)).rejects.toMatchObject({ code: "40P01" });
    expect(f.calls()).toBe(3);
  });

  it("does not retry other errors", async () => {
    const f = failing(["23505"]);
    await expect(retryAborted(f.fn)).rejects.toMatchObject({ code: "23505" });
    expect(f.calls()).toBe(1);
  });
});
