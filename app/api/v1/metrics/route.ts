import { Registry } from "prom-client";
import { z } from "zod";
import { plainText } from "@/lib/http/reply";
import { endpoint, route } from "@/lib/http/route";
import { accountMetrics } from "@/lib/services/metrics";

export const { GET, POST, PUT, PATCH, DELETE, OPTIONS } = route({
  GET: endpoint({
    summary: "Get metrics",
    description:
      "The account's instances and operations in the Prometheus text format, for Prometheus, Grafana Alloy or Datadog's OpenMetrics " +
      "check to scrape with the API key as a bearer token: per instance (labels `instance_id`, `subdomain`, `region`) " +
      "`moc_instance_status{status}`, `moc_instance_health{health}`, `moc_instance_up` and " +
      "`moc_instance_last_observed_timestamp_seconds`; per operation type and result `moc_operations_total` and the histogram " +
      "`moc_operation_duration_seconds`; `moc_operations_in_progress{type}`.",
    scope: "instance:read",
    rate: "read",
    response: {
      status: 200,
      contentType: Registry.PROMETHEUS_CONTENT_TYPE,
      schema: z.string().meta({ example: 'moc_instance_up{instance_id="inst_01jd3z6v7a8b9c0d1e2f3g4h5j",subdomain="my-assistant",region="dfw"} 1' }),
      description: "The Prometheus text exposition format 0.0.4",
    },
    handler: async (ctx) => {
      const { text, contentType } = await accountMetrics(ctx);
      return plainText(text, contentType);
    },
  }),
});
