import {
  Badge,
  Box,
  Button,
  Card,
  Group,
  Loader,
  SegmentedControl,
  Select,
  Stack,
  Switch,
  Text,
  TextInput,
  ThemeIcon,
  VisuallyHidden,
} from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import {
  IconAlertCircle,
  IconAlertTriangle,
  IconBellOff,
  IconChecks,
  IconCircleCheck,
  IconFilterOff,
  IconInfoCircle,
  IconSearch,
} from "@tabler/icons-react";
import { useEffect, useMemo, useState, type ComponentType } from "react";

import { commands, type ApiError, type NotificationLevel } from "../bindings";
import { EmptyState } from "../components/EmptyState";
import { ErrorNotice } from "../components/ErrorNotice";
import { PageHeader } from "../components/PageHeader";
import { JobsPanel } from "../operations/JobsPanel";
import { toApiError, useCommand } from "../ipc";
import { useNotificationAdded, useUnread, type StoredNotification } from "../notifications/live";
import { absoluteTime, relativeTime } from "../notifications/time";

/** Rows per request; "Load older" asks for the next ones after the last shown. */
export const PAGE_SIZE = 50;

export const LEVELS: Record<
  NotificationLevel,
  { label: string; color: string; Icon: ComponentType<{ size?: number; "aria-hidden"?: boolean }> }
> = {
  info: { label: "Info", color: "blue", Icon: IconInfoCircle },
  success: { label: "Success", color: "green", Icon: IconCircleCheck },
  warning: { label: "Warning", color: "orange", Icon: IconAlertTriangle },
  error: { label: "Error", color: "red", Icon: IconAlertCircle },
};

type Query = {
  level: NotificationLevel | null;
  account_id: string | null;
  unread_only: boolean;
  search: string | null;
};

type Page =
  | { key: string; query: Query; state: "ready"; items: StoredNotification[]; hasMore: boolean }
  | { key: string; query: Query; state: "failed"; error: ApiError };

/** Whether a notification that just arrived belongs in the list as filtered (the engine's rules). */
function matches(q: Query, n: StoredNotification): boolean {
  if (q.level && n.level !== q.level) return false;
  if (q.account_id && n.account_id !== q.account_id) return false;
  if (q.unread_only && n.read) return false;
  if (q.search) {
    const s = q.search.toLowerCase();
    if (!n.title.toLowerCase().includes(s) && !n.body.toLowerCase().includes(s)) return false;
  }
  return true;
}

/** Newest first, as the engine orders them; one row per id. */
function merge(a: StoredNotification[], b: StoredNotification[]): StoredNotification[] {
  const byId = new Map<number, StoredNotification>();
  for (const n of [...a, ...b]) byId.set(n.id, n);
  return [...byId.values()].sort((x, y) => Date.parse(y.at) - Date.parse(x.at) || y.id - x.id);
}

export function NotificationsPage() {
  const unread = useUnread();
  const accounts = useCommand(() => commands.listCloudAccounts());
  const [level, setLevel] = useState<NotificationLevel | null>(null);
  const [accountId, setAccountId] = useState<string | null>(null);
  const [unreadOnly, setUnreadOnly] = useState(false);
  const [search, setSearch] = useState("");
  const [debouncedSearch] = useDebouncedValue(search.trim(), 250);
  const [page, setPage] = useState<Page | null>(null);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [actionError, setActionError] = useState<{ title: string; error: ApiError } | null>(null);
  const [now, setNow] = useState(() => Date.now());

  const query = useMemo<Query>(
    () => ({ level, account_id: accountId, unread_only: unreadOnly, search: debouncedSearch || null }),
    [level, accountId, unreadOnly, debouncedSearch],
  );
  const key = JSON.stringify(query);
  const filtered = query.level !== null || query.account_id !== null || query.unread_only || query.search !== null;

  useEffect(() => {
    let live = true;
    commands
      .listNotifications({ ...query, limit: PAGE_SIZE, before_id: null })
      .then((out) => {
        if (!live) return;
        setPage(
          out.status === "ok"
            ? { key, query, state: "ready", items: out.data, hasMore: out.data.length === PAGE_SIZE }
            : { key, query, state: "failed", error: out.error },
        );
      })
      .catch((e: unknown) => live && setPage({ key, query, state: "failed", error: toApiError(e) }));
    return () => {
      live = false;
    };
  }, [key, query]);

  // Relative times ("2 minutes ago") stay true while the page is open.
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 30_000);
    return () => clearInterval(timer);
  }, []);

  useNotificationAdded((n) => {
    setNow(Date.now());
    setPage((p) => (p && p.state === "ready" && matches(p.query, n) ? { ...p, items: merge([n], p.items) } : p));
  });

  // A page for other filters is still on screen while the new one loads: show it as loading.
  const current = page && page.key === key ? page : null;

  async function loadOlder() {
    if (!current || current.state !== "ready" || current.items.length === 0) return;
    const last = current.items[current.items.length - 1]!;
    setLoadingOlder(true);
    try {
      const out = await commands.listNotifications({ ...current.query, limit: PAGE_SIZE, before_id: last.id });
      if (out.status === "error") {
        setActionError({ title: "Older notifications could not be read", error: out.error });
        return;
      }
      setActionError(null);
      setPage((p) =>
        p && p.key === current.key && p.state === "ready"
          ? { ...p, items: merge(p.items, out.data), hasMore: out.data.length === PAGE_SIZE }
          : p,
      );
    } catch (e) {
      setActionError({ title: "Older notifications could not be read", error: toApiError(e) });
    } finally {
      setLoadingOlder(false);
    }
  }

  async function markRead(ids: number[] | "all") {
    const title = ids === "all" ? "Notifications could not be marked as read" : "The notification could not be marked as read";
    try {
      const out = ids === "all" ? await commands.markAllNotificationsRead() : await commands.markNotificationsRead(ids);
      if (out.status === "error") {
        setActionError({ title, error: out.error });
        return;
      }
      setActionError(null);
      // Rows stay where they are, shown as read, even under "Unread only": nothing jumps away
      // under the pointer. The next load applies the filter.
      setPage((p) =>
        p && p.state === "ready"
          ? { ...p, items: p.items.map((n) => (ids === "all" || ids.includes(n.id) ? { ...n, read: true } : n)) }
          : p,
      );
    } catch (e) {
      setActionError({ title, error: toApiError(e) });
    } finally {
      unread.refresh();
    }
  }

  function clearFilters() {
    setLevel(null);
    setAccountId(null);
    setUnreadOnly(false);
    setSearch("");
  }

  const accountOptions =
    accounts.state === "ready" ? accounts.data.map((a) => ({ value: a.id, label: a.name })) : [];

  return (
    <>
      <PageHeader
        title="Notifications"
        description="Every job's start, progress and outcome: backups, replications, restores, setup."
        actions={
          <Button
            variant="light"
            leftSection={<IconChecks size={18} />}
            onClick={() => void markRead("all")}
            disabled={unread.count === 0}
          >
            Mark all as read
          </Button>
        }
      />
      <Stack gap="md">
        <JobsPanel />
        <Group gap="md" align="flex-end" wrap="wrap" role="search" aria-label="Filter notifications">
          <SegmentedControl
            aria-label="Level"
            value={level ?? "all"}
            onChange={(v) => setLevel(v === "all" ? null : (v as NotificationLevel))}
            data={[
              { value: "all", label: "All" },
              ...(Object.keys(LEVELS) as NotificationLevel[]).map((l) => ({ value: l, label: LEVELS[l].label })),
            ]}
          />
          <Select
            label="Account"
            placeholder="All accounts"
            data={accountOptions}
            value={accountId}
            onChange={setAccountId}
            clearable
            w={220}
            disabled={accounts.state !== "ready" || accountOptions.length === 0}
            description={accounts.state === "failed" ? "Accounts could not be read" : undefined}
            comboboxProps={{ withinPortal: true }}
          />
          <TextInput
            label="Search"
            placeholder="Title or message"
            leftSection={<IconSearch size={16} aria-hidden />}
            value={search}
            onChange={(e) => setSearch(e.currentTarget.value)}
            w={260}
            type="search"
          />
          <Switch
            label="Unread only"
            checked={unreadOnly}
            onChange={(e) => setUnreadOnly(e.currentTarget.checked)}
            mb={8}
          />
        </Group>

        {actionError && <ErrorNotice title={actionError.title} error={actionError.error} />}

        <Card withBorder padding={current?.state === "ready" && current.items.length > 0 ? 0 : "lg"}>
          {current === null && <Loader aria-label="Loading notifications" />}
          {current?.state === "failed" && <ErrorNotice title="Notifications could not be read" error={current.error} />}
          {current?.state === "ready" && current.items.length === 0 && !filtered && (
            <EmptyState icon={<IconBellOff size={30} />} title="No notifications yet">
              When Standby backs up, replicates, restores or sets up disaster recovery, each job reports its progress
              and its outcome here.
            </EmptyState>
          )}
          {current?.state === "ready" && current.items.length === 0 && filtered && (
            <EmptyState icon={<IconFilterOff size={30} />} title="No notification matches these filters">
              Change the level, account or search, or clear them all to see every notification.
              <br />
              <Button variant="subtle" onClick={clearFilters} mt="xs">
                Clear filters
              </Button>
            </EmptyState>
          )}
          {current?.state === "ready" && current.items.length > 0 && (
            <Box component="ul" aria-label="Notifications, newest first" m={0} p={0} style={{ listStyle: "none" }}>
              {current.items.map((n, i) => (
                <NotificationRow
                  key={n.id}
                  n={n}
                  now={now}
                  first={i === 0}
                  onMarkRead={() => void markRead([n.id])}
                />
              ))}
            </Box>
          )}
        </Card>

        {current?.state === "ready" && current.hasMore && (
          <Group justify="center">
            <Button variant="default" onClick={() => void loadOlder()} loading={loadingOlder}>
              Load older
            </Button>
          </Group>
        )}
      </Stack>
    </>
  );
}

function NotificationRow(props: { n: StoredNotification; now: number; first: boolean; onMarkRead: () => void }) {
  const { n } = props;
  const level = LEVELS[n.level];
  const at = new Date(n.at);
  return (
    <Box
      component="li"
      px="md"
      py="sm"
      data-notification-id={n.id}
      data-read={n.read}
      style={{
        borderTop: props.first ? undefined : "1px solid var(--mantine-color-default-border)",
        // A faint tint of the theme's blue reads in both light and dark; the bar and bold title
        // carry the meaning for those who cannot tell the tint apart.
        background: n.read ? undefined : "color-mix(in srgb, var(--mantine-color-blue-filled) 7%, transparent)",
        borderLeft: `3px solid ${n.read ? "transparent" : "var(--mantine-color-blue-filled)"}`,
      }}
    >
      <Group align="flex-start" wrap="nowrap" gap="sm">
        <ThemeIcon color={level.color} variant="light" size={32} radius="xl" aria-hidden>
          <level.Icon size={20} aria-hidden />
        </ThemeIcon>
        <Stack gap={2} style={{ flex: 1, minWidth: 0 }}>
          <Group gap="xs" wrap="wrap">
            <Text fw={n.read ? 500 : 700} size="sm" component="h2" m={0}>
              <VisuallyHidden>
                {n.read ? "" : "Unread. "}
                {level.label}:{" "}
              </VisuallyHidden>
              {n.title}
            </Text>
            {n.account_name && (
              <Badge variant="default" size="sm" tt="none" data-testid="notification-account">
                {n.account_name}
              </Badge>
            )}
          </Group>
          {n.body && (
            <Text size="sm" style={{ whiteSpace: "pre-wrap", overflowWrap: "anywhere" }}>
              {n.body}
            </Text>
          )}
          <Text size="xs" c="dimmed">
            <time dateTime={n.at} title={absoluteTime(at)}>
              {relativeTime(at, props.now)}
            </time>
            {" · "}
            {absoluteTime(at)}
            {n.job_id && (
              <>
                {" · "}
                <span title={n.job_id}>job {n.job_id.slice(0, 8)}</span>
              </>
            )}
          </Text>
        </Stack>
        {!n.read && (
          <Button
            variant="subtle"
            size="compact-sm"
            onClick={props.onMarkRead}
            aria-label={`Mark “${n.title}” as read`}
          >
            Mark as read
          </Button>
        )}
      </Group>
    </Box>
  );
}
