import {
  ActionIcon,
  AppShell,
  Badge,
  Group,
  Image,
  MantineProvider,
  NavLink,
  Text,
  Tooltip,
  useComputedColorScheme,
  useMantineColorScheme,
} from "@mantine/core";
import { Notifications } from "@mantine/notifications";
import {
  IconBell,
  IconCloud,
  IconDatabase,
  IconLayoutDashboard,
  IconMoon,
  IconShieldCheck,
  IconSun,
} from "@tabler/icons-react";
import { useState, type ReactNode } from "react";

import { commands, type AppInfo, type CloudAccount } from "./bindings";
import { useCommand, type Loaded } from "./ipc";
import { CloudAccountsPage } from "./pages/CloudAccounts";
import { DashboardPage } from "./pages/Dashboard";
import { DisasterRecoveryPage } from "./pages/DisasterRecovery";
import { NotificationsPage } from "./pages/Notifications";
import { RunningJobsIndicator } from "./operations/JobsPanel";
import { UnreadProvider } from "./notifications/live";
import { OverviewMemoryProvider } from "./overview/VolumesPanel";
import { NotificationBell } from "./notifications/NotificationBell";
import { VolumesPage } from "./pages/Volumes";
import { theme } from "./theme";
import logo from "../../icons/128x128.png";

export type PageId = "dashboard" | "disaster-recovery" | "volumes" | "notifications" | "cloud-accounts";

const NAV: { id: PageId; label: string; icon: ReactNode }[] = [
  { id: "dashboard", label: "Dashboard", icon: <IconLayoutDashboard size={18} /> },
  { id: "disaster-recovery", label: "Disaster recovery", icon: <IconShieldCheck size={18} /> },
  { id: "volumes", label: "Volumes", icon: <IconDatabase size={18} /> },
  { id: "notifications", label: "Notifications", icon: <IconBell size={18} /> },
  { id: "cloud-accounts", label: "Cloud accounts", icon: <IconCloud size={18} /> },
];

export function App() {
  return (
    <MantineProvider theme={theme} defaultColorScheme="auto">
      <Notifications position="bottom-right" />
      <Shell />
    </MantineProvider>
  );
}

function Shell() {
  const [page, setPage] = useState<PageId>("dashboard");
  const accounts = useCommand(() => commands.listCloudAccounts());
  const info = useCommand(() => commands.appInfo());
  return (
    <UnreadProvider>
      <AppShell header={{ height: 56 }} navbar={{ width: 232, breakpoint: 0 }} padding="lg">
        <AppShell.Header>
          <Group h="100%" px="md" justify="space-between">
            <Group gap="xs">
              <Image src={logo} alt="" w={28} h={28} />
              <Text fw={700} size="lg">
                Standby
              </Text>
            </Group>
            <Group gap="xs">
              {info.state === "ready" && <LabBadge info={info.data} />}
              <RunningJobsIndicator onOpen={() => setPage("notifications")} />
              <NotificationBell onOpen={() => setPage("notifications")} current={page === "notifications"} />
              <ColorSchemeToggle />
            </Group>
          </Group>
        </AppShell.Header>
        <AppShell.Navbar p="xs" component="nav" aria-label="Main">
          {NAV.map((item) => (
            <NavLink
              key={item.id}
              component="button"
              data-nav={item.id}
              label={item.label}
              leftSection={item.icon}
              active={page === item.id}
              aria-current={page === item.id ? "page" : undefined}
              onClick={() => setPage(item.id)}
              style={{ borderRadius: "var(--mantine-radius-md)" }}
            />
          ))}
        </AppShell.Navbar>
        <AppShell.Main>
          <OverviewMemoryProvider>
            <CurrentPage page={page} accounts={accounts} info={info} />
          </OverviewMemoryProvider>
        </AppShell.Main>
      </AppShell>
    </UnreadProvider>
  );
}

function CurrentPage(props: { page: PageId; accounts: Loaded<CloudAccount[]>; info: Loaded<AppInfo> }) {
  switch (props.page) {
    case "dashboard":
      return <DashboardPage accounts={props.accounts} info={props.info} />;
    case "disaster-recovery":
      return <DisasterRecoveryPage accounts={props.accounts} />;
    case "volumes":
      return <VolumesPage accounts={props.accounts} />;
    case "notifications":
      return <NotificationsPage />;
    case "cloud-accounts":
      return <CloudAccountsPage accounts={props.accounts} />;
  }
}

/** Says plainly when the clusters and regions on screen are the lab's simulation. */
function LabBadge(props: { info: AppInfo }) {
  const lab = props.info.lab;
  if (!lab) return null;
  if (lab.error) {
    return (
      <Tooltip label={lab.error.message} multiline w={360}>
        <Badge color="red" variant="light" data-testid="lab-badge">
          Lab failed to start
        </Badge>
      </Tooltip>
    );
  }
  return (
    <Tooltip
      label={`Simulated AHV clusters and Azure regions on this machine. Control API: ${lab.control_url ?? ""}`}
      multiline
      w={360}
    >
      <Badge color="violet" variant="light" data-testid="lab-badge">
        Lab
      </Badge>
    </Tooltip>
  );
}

function ColorSchemeToggle() {
  const { setColorScheme } = useMantineColorScheme();
  const computed = useComputedColorScheme("light");
  const next = computed === "dark" ? "light" : "dark";
  return (
    <Tooltip label={`Switch to the ${next} theme`}>
      <ActionIcon variant="subtle" size="lg" aria-label={`Switch to the ${next} theme`} onClick={() => setColorScheme(next)}>
        {computed === "dark" ? <IconSun size={20} /> : <IconMoon size={20} />}
      </ActionIcon>
    </Tooltip>
  );
}
