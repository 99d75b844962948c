import { describe, expect, it } from "vitest";

import { countLocale, num, plural } from "./numbers";

describe("counts", () => {
  it("are grouped as in en-US under the C or POSIX locale", () => {
    expect(countLocale("en-US-u-va-posix")).toBe("en-US");
    expect(countLocale("C")).toBe("en-US");
    expect(countLocale("POSIX")).toBe("en-US");
  });

  it("follow the administrator's locale otherwise", () => {
    expect(countLocale("de-DE")).toBeUndefined();
    expect(countLocale("en-GB")).toBeUndefined();
    expect(countLocale("fr")).toBeUndefined();
  });

  it("group thousands", () => {
    // The test runner's locale is en-US (or C, which becomes en-US).
    expect(num(100000)).toBe("100,000");
    expect(num(7)).toBe("7");
  });
});

describe("plural", () => {
  it("counts with the noun that goes with the number", () => {
    expect(plural(1, "backup")).toBe("1 backup");
    expect(plural(100000, "backup")).toBe("100,000 backups");
    expect(plural(2, "gap is", "gaps are")).toBe("2 gaps are");
  });
});
