import {
  ActionIcon,
  AppShell,
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

import { commands, type CloudAccount } from "./bindings";
import { useCommand, type Loaded } from "./ipc";
import { CloudAccountsPage } from "./pages/CloudAccounts";
import { DashboardPage } from "./pages/Dashboard";
import { DisasterRecoveryPage } from "./pages/DisasterRecovery";
import { NotificationsPage } from "./pages/Notifications";
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
  return (
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
            <Tooltip label="Notifications">
              <ActionIcon
                variant="subtle"
                size="lg"
                aria-label="Notifications"
                onClick={() => setPage("notifications")}
              >
                <IconBell size={20} />
              </ActionIcon>
            </Tooltip>
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
        <CurrentPage page={page} accounts={accounts} />
      </AppShell.Main>
    </AppShell>
  );
}

function CurrentPage(props: { page: PageId; accounts: Loaded<CloudAccount[]> }) {
  switch (props.page) {
    case "dashboard":
      return <DashboardPage accounts={props.accounts} />;
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
