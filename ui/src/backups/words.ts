// How the Backups tab and the restore dialog name the engine's values. Words only: every value
// shown comes from a command.
import type { Backup_Serialize, BackupKind, BackupSite, ResourceKind } from "../bindings";

export const KIND: Record<BackupKind, string> = {
  manual: "Manual",
  scheduled: "Scheduled",
  post_session: "Post-session",
  safety: "Safety",
};

export const SITE: Record<BackupSite, string> = {
  primary: "Primary",
  replica: "Replica",
};

export const RESOURCE: Record<ResourceKind, string> = {
  sandbox: "Sandbox",
  utility_server: "Utility server",
  persistent_desktop: "Persistent desktop",
  enterprise_profile: "Enterprise profile",
  personal_drive: "Personal drive",
  template_image: "Template image",
};

/** A backup's state in words, with a replica's copy percentage while it replicates. */
export function stateText(b: Pick<Backup_Serialize, "state" | "percent">): string {
  switch (b.state) {
    case "available":
      return "Available";
    case "creating":
      return "Being taken";
    case "failed":
      return "Failed";
    case "replicating":
      return b.percent === null ? "Replicating" : `Replicating ${Math.floor(b.percent)}%`;
  }
}

export const STATE_COLOR: Record<Backup_Serialize["state"], string> = {
  available: "green",
  creating: "blue",
  replicating: "blue",
  failed: "red",
};

/** An RFC 3339 instant in the machine's language and time zone, to the minute. */
export function when(rfc3339: string | null | undefined): string {
  if (!rfc3339) return "—";
  const d = new Date(rfc3339);
  if (Number.isNaN(d.getTime())) return rfc3339;
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}
