// The Backups tab of the Volumes page: pick a volume, see its backups and replicas as the catalog
// holds them, take one now, restore any of them.
import { ActionIcon, Badge, Button, Group, Loader, Menu, Select, Stack, Table, Text, TextInput, Tooltip, VisuallyHidden } from "@mantine/core";
import { IconArchive, IconArchiveOff, IconDots, IconPlus, IconRestore } from "@tabler/icons-react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";

import {
  commands,
  type ApiError,
  type Backup_Serialize,
  type BackupKind,
  type CloudAccount,
  type DiscoveredResource_Serialize,
} from "../bindings";
import { EmptyState } from "../components/EmptyState";
import { ErrorNotice } from "../components/ErrorNotice";
import { toApiError } from "../ipc";
import { useNotificationAdded } from "../notifications/live";
import { useJobProgressEvents } from "../operations/progress";
import { CreateBackupDialog } from "./CreateBackupDialog";
import { RestoreDialog } from "./RestoreDialog";
import { KIND, RESOURCE, SITE, STATE_COLOR, stateText, when } from "./words";

/** A replica's percentage is re-read at most this often while its job reports progress. */
const PROGRESS_RELOAD_MS = 1500;

type Listed = { volume: string; backups: Backup_Serialize[]; expiries: Map<string, string | null> | null };

export function BackupsTab(props: { accounts: CloudAccount[] }) {
  const [accountId, setAccountId] = useState<string | null>(props.accounts[0]?.id ?? null);
  const [frameAccount, setFrameAccount] = useState("");
  const [volumes, setVolumes] = useState<DiscoveredResource_Serialize[] | null>(null);
  const [discovering, setDiscovering] = useState(false);
  const [discoverError, setDiscoverError] = useState<ApiError | null>(null);
  const [volume, setVolume] = useState<string | null>(null);
  const [listed, setListed] = useState<Listed | null>(null);
  const [listError, setListError] = useState<ApiError | null>(null);
  const [listing, setListing] = useState(false);
  const [dialog, setDialog] = useState<{ kind: "create" } | { kind: "restore"; backupId: string } | null>(null);

  const discover = useCallback(async (account: string, frame: string) => {
    if (!account || !frame.trim()) return;
    setDiscovering(true);
    setDiscoverError(null);
    let out;
    try {
      out = await commands.discoverResources(account, frame.trim());
    } catch (e) {
      out = { status: "error" as const, error: toApiError(e) };
    }
    setDiscovering(false);
    if (out.status === "ok") {
      setVolumes(out.data);
      setVolume((v) => (v && out.data.some((r) => r.provider_id === v) ? v : null));
    } else {
      setVolumes(null);
      setDiscoverError(out.error);
    }
  }, []);

  // The Frame account DR was enabled for on this cloud account, when there is one: its volumes
  // are listed at once.
  useEffect(() => {
    let live = true;
    void commands
      .drConfigs()
      .then((out) => {
        if (!live || out.status !== "ok") return;
        const known = out.data.find((c) => c.account_id === accountId);
        if (known && accountId) {
          setFrameAccount(known.frame_account);
          void discover(accountId, known.frame_account);
        }
      })
      .catch(() => {});
    return () => {
      live = false;
    };
  }, [accountId, discover]);

  // Answers can arrive out of order (a reload right after a volume change): keep the newest ask's.
  const asked = useRef(0);
  const list = useCallback(async (account: string, vol: string) => {
    const ask = ++asked.current;
    setListing(true);
    let out;
    try {
      out = await commands.listBackups(account, vol);
    } catch (e) {
      out = { status: "error" as const, error: toApiError(e) };
    }
    if (ask !== asked.current) return;
    setListing(false);
    if (out.status !== "ok") {
      setListError(out.error);
      return;
    }
    setListError(null);
    const backups = out.data;
    setListed((prev) => ({
      volume: vol,
      backups,
      // Keep the expiries already read until the new ones arrive.
      expiries: prev?.volume === vol ? prev.expiries : null,
    }));
    const expiries = await readExpiries(account, backups);
    if (ask !== asked.current) return;
    setListed({ volume: vol, backups, expiries });
  }, []);

  const reload = useCallback(() => {
    if (accountId && volume) void list(accountId, volume);
  }, [accountId, volume, list]);

  // A notification about this account (a backup's outcome, a replica done, a restore) changes
  // what the catalog holds for it.
  useNotificationAdded((n) => {
    if (n.account_id && n.account_id === accountId) reload();
  });

  // While a job of a listed backup (or the one just started here) reports progress, a replica's
  // percentage moves in the catalog: re-read it, not more often than PROGRESS_RELOAD_MS.
  const watched = useRef(new Set<string>());
  const lastReload = useRef(0);
  const pending = useRef<ReturnType<typeof setTimeout> | null>(null);
  useJobProgressEvents((ticket, p) => {
    const known =
      (ticket !== null && watched.current.has(ticket)) ||
      (listed?.backups.some((b) => b.job_id === p.job_id && b.state !== "available") ?? false);
    if (!known || pending.current) return;
    const wait = Math.max(0, lastReload.current + PROGRESS_RELOAD_MS - Date.now());
    pending.current = setTimeout(() => {
      pending.current = null;
      lastReload.current = Date.now();
      reload();
    }, wait);
  });
  useEffect(
    () => () => {
      if (pending.current) clearTimeout(pending.current);
    },
    [],
  );

  function chooseAccount(id: string | null) {
    setAccountId(id);
    setVolumes(null);
    setVolume(null);
    setListed(null);
  }

  function chooseVolume(v: string | null) {
    setVolume(v);
    if (accountId && v) void list(accountId, v);
    else setListed(null);
  }

  const choices = useMemo(
    () =>
      (volumes ?? [])
        .filter((v) => v.kind !== "template_image")
        .map((v) => ({
          value: v.provider_id,
          label: `${v.name} · ${RESOURCE[v.kind]}${v.owner ? ` · ${v.owner}` : ""}`,
        })),
    [volumes],
  );
  const templates = (volumes ?? []).length - choices.length;
  const rows = listed && listed.volume === volume ? listed.backups : null;

  return (
    <Stack gap="md">
      <Group align="flex-end" gap="sm">
        <Select
          label="Cloud account"
          data={props.accounts.map((a) => ({ value: a.id, label: a.name }))}
          value={accountId}
          onChange={chooseAccount}
          allowDeselect={false}
          w={220}
        />
        <TextInput
          label="Frame account"
          placeholder="e.g. acme-pd"
          value={frameAccount}
          onChange={(e) => setFrameAccount(e.currentTarget.value)}
          onKeyDown={(e) => e.key === "Enter" && accountId && void discover(accountId, frameAccount)}
          w={180}
          data-testid="backups-frame-account"
        />
        <Button
          variant="default"
          onClick={() => accountId && void discover(accountId, frameAccount)}
          loading={discovering}
          disabled={!accountId || !frameAccount.trim()}
        >
          List volumes
        </Button>
        <Select
          label="Volume"
          placeholder={volumes ? "Type to search by name or owner" : "List the volumes first"}
          data={choices}
          value={volume}
          onChange={chooseVolume}
          searchable
          limit={100}
          disabled={!volumes}
          nothingFoundMessage="No volume of that name"
          style={{ flex: 1, minWidth: 280 }}
          data-testid="backups-volume"
        />
        <Button
          leftSection={<IconPlus size={16} />}
          onClick={() => setDialog({ kind: "create" })}
          disabled={!volumes || choices.length === 0}
        >
          Create backup
        </Button>
      </Group>
      {volumes && templates > 0 && (
        <Text size="xs" c="dimmed">
          Template images are not listed: they are not part of a Frame account and are never backed up.
        </Text>
      )}
      {discoverError && <ErrorNotice title="The volumes could not be listed" error={discoverError} />}
      {listError && <ErrorNotice title="The backups could not be read" error={listError} />}
      {!volume ? (
        <EmptyState icon={<IconArchive size={30} />} title="Pick a volume">
          {volumes
            ? "Its backups and their replicas on the secondary site are listed here, newest first."
            : "Enter the Frame account and list its volumes, then pick one to see its backups."}
        </EmptyState>
      ) : !rows ? (
        listing && <Loader aria-label="Reading the backups" />
      ) : rows.length === 0 ? (
        <EmptyState icon={<IconArchiveOff size={30} />} title="No backups of this volume yet">
          Take one with Create backup; scheduled and post-session backups are set under Settings.
        </EmptyState>
      ) : (
        <BackupTable
          backups={rows}
          expiries={listed?.expiries ?? null}
          onRestore={(id) => setDialog({ kind: "restore", backupId: id })}
        />
      )}
      {dialog?.kind === "create" && accountId && (
        <CreateBackupDialog
          account={accountId}
          frameAccount={frameAccount.trim()}
          volumes={choices}
          initialVolume={volume}
          onStarted={(t) => watched.current.add(t)}
          onEnded={reload}
          onClose={() => setDialog(null)}
        />
      )}
      {dialog?.kind === "restore" && (
        <RestoreDialog backupId={dialog.backupId} onClose={() => setDialog(null)} onRestored={reload} />
      )}
    </Stack>
  );
}

/**
 * When retention expects to delete each backup: the timeline carries it (the backup list does
 * not), read over exactly the span of the listed backups. `null` when it could not be read.
 */
async function readExpiries(account: string, backups: Backup_Serialize[]): Promise<Map<string, string | null> | null> {
  if (backups.length === 0) return new Map();
  const byVolume = new Map<string, string[]>();
  for (const b of backups) byVolume.set(b.volume_id, [...(byVolume.get(b.volume_id) ?? []), b.created_at]);
  const out = new Map<string, string | null>();
  try {
    for (const [volumeId, created] of byVolume) {
      // created_at is RFC 3339 in UTC throughout the catalog: text order is time order.
      const from = created.reduce((a, b) => (b < a ? b : a));
      const to = created.reduce((a, b) => (b > a ? b : a));
      const t = await commands.timeline({
        account_id: account,
        volume: volumeId,
        from,
        to,
        max_points: null,
      });
      if (t.status !== "ok") return null;
      for (const p of [...t.data.primary, ...t.data.replicas]) out.set(p.backup_id, p.expires_at);
    }
  } catch {
    return null;
  }
  return out;
}

function BackupTable(props: {
  backups: Backup_Serialize[];
  expiries: Map<string, string | null> | null;
  onRestore: (backupId: string) => void;
}) {
  const counts = new Map<BackupKind, number>();
  for (const b of props.backups) counts.set(b.kind, (counts.get(b.kind) ?? 0) + 1);
  const replicas = props.backups.filter((b) => b.site === "replica").length;
  const n = props.backups.length;
  return (
    <Stack gap="xs">
      <Table.ScrollContainer minWidth={860}>
        <Table striped highlightOnHover verticalSpacing="xs" data-testid="backups-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>Created</Table.Th>
              <Table.Th>Type</Table.Th>
              <Table.Th>Site</Table.Th>
              <Table.Th>State</Table.Th>
              <Table.Th>Expires</Table.Th>
              <Table.Th>
                <VisuallyHidden>Actions</VisuallyHidden>
              </Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {props.backups.map((b) => {
              const expiry = props.expiries ? props.expiries.get(b.id) : undefined;
              return (
                <Table.Tr key={b.id} data-backup-id={b.id} data-site={b.site} data-state={b.state}>
                  <Table.Td fw={600}>{b.name}</Table.Td>
                  <Table.Td style={{ whiteSpace: "nowrap" }}>{when(b.created_at)}</Table.Td>
                  <Table.Td>{KIND[b.kind]}</Table.Td>
                  <Table.Td style={{ whiteSpace: "nowrap" }}>
                    <Badge variant="light" color={b.site === "primary" ? "blue" : "grape"} tt="none">
                      {SITE[b.site]}
                    </Badge>{" "}
                    <Text span size="xs" c="dimmed">
                      {b.location}
                    </Text>
                  </Table.Td>
                  <Table.Td style={{ whiteSpace: "nowrap" }}>
                    <Badge variant="light" color={STATE_COLOR[b.state]} tt="none" data-testid="backup-state">
                      {stateText(b)}
                    </Badge>
                    {b.error && (
                      <Text size="xs" c="red" style={{ whiteSpace: "normal" }}>
                        {b.error}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td style={{ whiteSpace: "nowrap" }}>
                    {props.expiries === null ? (
                      <Tooltip label="The expiry could not be read">
                        <Text span c="dimmed">
                          unknown
                        </Text>
                      </Tooltip>
                    ) : expiry ? (
                      when(expiry)
                    ) : (
                      <Text span c="dimmed">
                        —
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td w={48}>
                    <Menu position="bottom-end" withinPortal>
                      <Menu.Target>
                        <ActionIcon variant="subtle" color="gray" aria-label={`Actions for ${b.name} (${SITE[b.site].toLowerCase()})`}>
                          <IconDots size={16} />
                        </ActionIcon>
                      </Menu.Target>
                      <Menu.Dropdown>
                        <Menu.Item leftSection={<IconRestore size={16} />} onClick={() => props.onRestore(b.id)}>
                          Restore
                        </Menu.Item>
                      </Menu.Dropdown>
                    </Menu>
                  </Table.Td>
                </Table.Tr>
              );
            })}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      <Text size="sm" c="dimmed" ta="right" data-testid="backup-count">
        {n === 1 ? "1 backup" : `${n} backups`} ({n - replicas} primary, {replicas} {replicas === 1 ? "replica" : "replicas"}):{" "}
        {[...counts.entries()].map(([k, c]) => `${c} ${KIND[k].toLowerCase()}`).join(", ")}
      </Text>
    </Stack>
  );
}
