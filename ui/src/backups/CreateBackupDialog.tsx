// *Create backup*: one volume, a name, then the engine's job followed to its end.
import { Alert, Badge, Button, Group, Modal, Select, Stack, Table, Text, TextInput } from "@mantine/core";
import { IconCircleCheck } from "@tabler/icons-react";
import { useState } from "react";

import { commands, type ApiError, type Backup_Serialize } from "../bindings";
import { ErrorNotice } from "../components/ErrorNotice";
import { toApiError } from "../ipc";
import { JobProgressBar, newTicket, useTicketProgress } from "../operations/progress";
import { SITE, STATE_COLOR, stateText } from "./words";

export type VolumeChoice = { value: string; label: string };

type Phase =
  | { at: "form"; error: ApiError | null }
  | { at: "running"; ticket: string; cancelling: boolean }
  | { at: "done"; backups: Backup_Serialize[] };

export function CreateBackupDialog(props: {
  account: string;
  frameAccount: string;
  volumes: VolumeChoice[];
  initialVolume: string | null;
  /** A job started (its ticket) and ended: the list follows both. */
  onStarted: (ticket: string) => void;
  onEnded: () => void;
  onClose: () => void;
}) {
  const [volume, setVolume] = useState<string | null>(props.initialVolume);
  const [name, setName] = useState("");
  const [nameError, setNameError] = useState<string | null>(null);
  const [phase, setPhase] = useState<Phase>({ at: "form", error: null });
  const progress = useTicketProgress(phase.at === "running" ? phase.ticket : null);
  const running = phase.at === "running";

  async function create() {
    const trimmed = name.trim();
    if (!trimmed) {
      setNameError("Enter a name for the backup, such as “before the update”.");
      return;
    }
    if (!volume) return;
    setNameError(null);
    const ticket = newTicket();
    setPhase({ at: "running", ticket, cancelling: false });
    props.onStarted(ticket);
    let out;
    try {
      out = await commands.createBackup(ticket, {
        account: props.account,
        frame_account: props.frameAccount,
        volume,
        name: trimmed,
        kind: "manual",
      });
    } catch (e) {
      out = { status: "error" as const, error: toApiError(e) };
    }
    props.onEnded();
    setPhase(out.status === "ok" ? { at: "done", backups: out.data } : { at: "form", error: out.error });
  }

  async function cancel() {
    if (phase.at !== "running") return;
    setPhase({ ...phase, cancelling: true });
    await commands.cancelOperation(phase.ticket).catch(() => false);
  }

  return (
    <Modal
      opened
      onClose={props.onClose}
      title="Create backup"
      size="lg"
      closeOnClickOutside={!running}
      closeOnEscape={!running}
      withCloseButton={!running}
    >
      {phase.at === "done" ? (
        <Stack gap="sm" aria-live="polite">
          <Alert color="green" variant="light" icon={<IconCircleCheck />} title="Backup taken">
            {phase.backups.length > 1
              ? "The backup and its replica on the secondary site:"
              : "The backup (disaster recovery is not enabled for this account, so it has no replica):"}
          </Alert>
          <Table withTableBorder data-testid="created-backups">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Site</Table.Th>
                <Table.Th>Name</Table.Th>
                <Table.Th>Location</Table.Th>
                <Table.Th>State</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {phase.backups.map((b) => (
                <Table.Tr key={b.id}>
                  <Table.Td>{SITE[b.site]}</Table.Td>
                  <Table.Td>{b.name}</Table.Td>
                  <Table.Td>{b.location}</Table.Td>
                  <Table.Td>
                    <Badge variant="light" color={STATE_COLOR[b.state]} tt="none">
                      {stateText(b)}
                    </Badge>
                    {b.error && (
                      <Text size="xs" c="red">
                        {b.error}
                      </Text>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          <Group justify="flex-end">
            <Button onClick={props.onClose}>Close</Button>
          </Group>
        </Stack>
      ) : (
        <form
          aria-label="Create backup"
          onSubmit={(e) => {
            e.preventDefault();
            if (!running) void create();
          }}
        >
          <Stack gap="sm">
            <Select
              label="Volume"
              data={props.volumes}
              value={volume}
              onChange={setVolume}
              searchable
              limit={100}
              allowDeselect={false}
              disabled={running}
              nothingFoundMessage="No volume of that name"
              comboboxProps={{ withinPortal: true }}
            />
            <TextInput
              label="Name"
              description="What this backup is for; it is listed with the backup."
              placeholder="e.g. before update"
              value={name}
              onChange={(e) => {
                setName(e.currentTarget.value);
                setNameError(null);
              }}
              error={nameError}
              required
              disabled={running}
              data-autofocus
              data-testid="backup-name"
            />
            {phase.at === "form" && phase.error && (
              <ErrorNotice title="The backup did not complete" error={phase.error} />
            )}
            {phase.at === "running" && (
              <Stack gap={4} aria-live="polite">
                <JobProgressBar progress={progress} label="Backup progress" />
                <Text size="sm" c="dimmed">
                  {phase.cancelling
                    ? "Cancelling: the backup stops at its next step; what it made is kept."
                    : "With disaster recovery, the backup ends when its replica is complete."}
                </Text>
              </Stack>
            )}
            <Group justify="flex-end">
              {running ? (
                <>
                  <Button variant="subtle" onClick={props.onClose} title="The backup goes on; the list and the notification center follow it">
                    Close, keep running
                  </Button>
                  <Button variant="default" color="red" onClick={() => void cancel()} loading={phase.cancelling}>
                    Cancel backup
                  </Button>
                </>
              ) : (
                <Button variant="default" onClick={props.onClose}>
                  Close
                </Button>
              )}
              <Button type="submit" loading={running} disabled={!volume}>
                Create backup
              </Button>
            </Group>
          </Stack>
        </form>
      )}
    </Modal>
  );
}
