import { Alert, Code, Text } from "@mantine/core";
import { IconAlertTriangle } from "@tabler/icons-react";

import type { ApiError } from "../bindings";

/** An error where it happened, in the engine's words, with its code for support. */
export function ErrorNotice(props: { title: string; error: ApiError }) {
  return (
    <Alert color="red" variant="light" icon={<IconAlertTriangle />} title={props.title} role="alert">
      <Text size="sm">{props.error.message}</Text>
      <Text size="xs" c="dimmed" mt={4}>
        Error code <Code>{props.error.code}</Code>
      </Text>
    </Alert>
  );
}
