import { describe, expect, it } from "vitest";

import { relativeTime } from "./time";

const NOW = Date.parse("2026-11-22T12:00:00Z");
const ago = (seconds: number) => new Date(NOW - seconds * 1000);

describe("relative time", () => {
  it("says how long ago, in the largest unit that fits", () => {
    expect(relativeTime(ago(10), NOW, "en")).toBe("just now");
    expect(relativeTime(ago(5 * 60), NOW, "en")).toBe("5 minutes ago");
    expect(relativeTime(ago(3 * 3600), NOW, "en")).toBe("3 hours ago");
    expect(relativeTime(ago(24 * 3600), NOW, "en")).toBe("yesterday");
    expect(relativeTime(ago(3 * 86400), NOW, "en")).toBe("3 days ago");
    expect(relativeTime(ago(60 * 86400), NOW, "en")).toBe("2 months ago");
    expect(relativeTime(ago(400 * 86400), NOW, "en")).toBe("last year");
  });

  it("does not claim the future is past when clocks disagree", () => {
    expect(relativeTime(ago(-2 * 3600), NOW, "en")).toBe("in 2 hours");
  });
});
