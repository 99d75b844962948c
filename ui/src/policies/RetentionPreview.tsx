// What a change of the number of scheduled backups retained would delete, shown before the
// change is saved: the engine's retention preview (`preview_schedule_retention`), as is.
import { Alert, Loader, Stack, Table, Text } from "@mantine/core";
import { IconInfoCircle, IconTrash } from "@tabler/icons-react";
import { useEffect, useState } from "react";

import { commands, type ApiError, type ScheduleRetentionPreview_Serialize } from "../bindings";
import { call, StepError } from "../wizards/parts";

const SITE = { primary: "Primary", replica: "Replica" } as const;

/** "2026-11-22 09:00" from RFC 3339, in the machine's time zone. */
export function when(rfc3339: string): string {
  const d = new Date(rfc3339);
  if (Number.isNaN(d.getTime())) return rfc3339;
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/**
 * The retention preview for `keep` on an account. Asked only when `keep` differs from the
 * number in force (`current`); nothing is asked while `keep` is invalid (null).
 */
export function RetentionPreview(props: { account: string; keep: number | null; current: number | null }) {
  const changed = props.keep !== null && props.keep !== props.current;
  const key = changed ? `${props.account}|${props.keep}` : "";
  const [result, setResult] = useState<{ key: string; data?: ScheduleRetentionPreview_Serialize; error?: ApiError } | null>(
    null,
  );
  useEffect(() => {
    if (!key || props.keep === null) return;
    const keep = props.keep;
    let live = true;
    const t = setTimeout(() => {
      void call(() => commands.previewScheduleRetention(props.account, keep)).then((out) => {
        if (live) setResult(out.status === "ok" ? { key, data: out.data } : { key, error: out.error });
      });
    }, 250);
    return () => {
      live = false;
      clearTimeout(t);
    };
    // The key holds the account and the count.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);

  if (!changed) {
    return (
      <Text size="sm" c="dimmed" data-testid="retention-preview">
        {props.current === null
          ? "Retention preview: enter the number retained to see what it would delete."
          : "Retention preview: the number retained is unchanged, so this change deletes no backup."}
      </Text>
    );
  }
  const current = result?.key === key ? result : null;
  if (!current) return <Loader size="sm" aria-label="Previewing retention" />;
  if (current.error) return <StepError title="The retention preview could not be computed" error={current.error} />;
  const data = current.data;
  if (!data) return null;
  if (data.account_count !== null) {
    return (
      <Alert variant="light" color="blue" icon={<IconInfoCircle />} data-testid="retention-preview">
        {data.preview.account_name} has its own retention count ({data.account_count} per volume, set with{" "}
        <code>standbyctl retention apply --keep</code>): it applies instead of the schedule's number retained, so this
        change deletes no backup.
      </Alert>
    );
  }
  const deleted = data.preview.verdicts.filter((v) => v.delete);
  return (
    <Stack gap="xs" aria-live="polite" data-testid="retention-preview">
      <Text size="sm" fw={600}>
        Retention preview with {props.keep} kept:{" "}
        {deleted.length === 0
          ? "no backup would be deleted."
          : `${deleted.length} ${deleted.length === 1 ? "backup" : "backups"} would be deleted.`}
      </Text>
      {deleted.length > 0 && (
        <>
          <Table.ScrollContainer minWidth={560} mah={260}>
            <Table striped verticalSpacing={4} fz="sm" aria-label="Backups the change would delete" data-testid="retention-deleted">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Volume</Table.Th>
                  <Table.Th>Backup</Table.Th>
                  <Table.Th>Site</Table.Th>
                  <Table.Th>Created</Table.Th>
                  <Table.Th>Why</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {deleted.map((v) => (
                  <Table.Tr key={v.backup.id}>
                    <Table.Td>{v.backup.volume_name}</Table.Td>
                    <Table.Td>
                      <IconTrash size={13} aria-hidden style={{ verticalAlign: -2, marginRight: 4 }} />
                      {v.backup.name}
                    </Table.Td>
                    <Table.Td>{SITE[v.backup.site]}</Table.Td>
                    <Table.Td style={{ whiteSpace: "nowrap" }}>{when(v.backup.created_at)}</Table.Td>
                    <Table.Td>{v.detail}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
          <Text size="xs" c="dimmed">
            Retention runs after each scheduled backup: these go at the first run of the changed schedule (and the
            backup that run takes may push one more of each volume's oldest out). The newest usable backup of each
            volume, backups still copying to the secondary and the base of the next incremental copy are never deleted.
          </Text>
        </>
      )}
    </Stack>
  );
}
