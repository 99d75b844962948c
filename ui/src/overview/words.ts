// How the Volumes table, the dashboard and the Disaster recovery page word the engine's answers.
// Formatting only: every figure comes from `volume_overview`, `dashboard` or `secondary_headroom`.

import type { BackupState, DesktopState, PowerState, ProtectionState, ResourceKind } from "../bindings";
export { plural } from "../numbers";

export const KIND: Record<ResourceKind, string> = {
  sandbox: "Sandbox",
  utility_server: "Utility server",
  persistent_desktop: "Persistent desktop",
  enterprise_profile: "Enterprise profile",
  personal_drive: "Personal drive",
  template_image: "Template image",
};

/** Plural words, for the Disaster recovery page's groups and the dashboard's kinds. */
export const KINDS: Record<ResourceKind, string> = {
  sandbox: "Sandbox",
  utility_server: "Utility servers",
  persistent_desktop: "Persistent desktops",
  enterprise_profile: "Enterprise profiles",
  personal_drive: "Personal drives",
  template_image: "Template images",
};

/** The order Frame's Disaster recovery page lists them in. */
export const KIND_ORDER: ResourceKind[] = [
  "sandbox",
  "utility_server",
  "persistent_desktop",
  "enterprise_profile",
  "personal_drive",
  "template_image",
];

export const PROTECTION: Record<ProtectionState, { label: string; color: string }> = {
  protected: { label: "Protected", color: "teal" },
  no_backup: { label: "No backup yet", color: "yellow" },
  no_dr: { label: "No DR", color: "orange" },
  not_protected: { label: "Not backed up", color: "gray" },
};

export const REPLICA: Record<BackupState, string> = {
  creating: "Creating",
  available: "Available",
  replicating: "Replicating",
  failed: "Failed",
};

const GIB = 1024 ** 3;

/** Bytes as GiB (TiB from 1,024 GiB), one decimal under 10. */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "—";
  const gib = n / GIB;
  if (gib >= 1024) return `${(gib / 1024).toFixed(1)} TiB`;
  if (gib >= 10) return `${Math.round(gib)} GiB`;
  return `${gib.toFixed(1)} GiB`;
}

/** A duration in seconds, in the largest unit that keeps it readable: "45 s", "12 min", "3 h 5 min", "2 d 4 h". */
export function duration(secs: number | null | undefined): string {
  if (secs === null || secs === undefined || !Number.isFinite(secs)) return "—";
  const s = Math.max(0, Math.round(secs));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 24) return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** "3 h ago" from an age the engine measured. */
export function ago(secs: number | null | undefined): string {
  if (secs === null || secs === undefined || !Number.isFinite(secs)) return "—";
  if (secs < 0) return "in the future (clock ahead)";
  return secs < 45 ? "just now" : `${duration(secs)} ago`;
}

/** The age of an RFC 3339 instant at `now` (ms), in seconds; NaN when it does not parse. */
export function ageAt(at: string, now: number): number {
  return (now - new Date(at).getTime()) / 1000;
}

export function status(desktop: DesktopState | null | undefined, power: PowerState | null | undefined, detail: string | null | undefined): string {
  const parts: string[] = [];
  if (desktop) parts.push(desktop === "assigned" ? "Assigned" : desktop === "unassigned" ? "Unassigned" : "Shadow");
  if (power === "on") parts.push("running");
  else if (power === "off") parts.push("off");
  else if (power === "other" && detail) parts.push(detail);
  return parts.join(", ") || "—";
}

