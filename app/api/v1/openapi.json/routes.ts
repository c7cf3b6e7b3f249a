import type { RouteModule } from "@/lib/openapi/document";

/**
 * Every route file under app/api/v1 that the OpenAPI document describes: one
 * line per file. tests/openapi/drift.test.ts fails when a route file is
 * missing here (or listed but gone), and says which line to add.
 */
export const ROUTE_MODULES: RouteModule[] = [
  { path: "/api/v1/account", load: () => import("@/app/api/v1/account/route") },
  { path: "/api/v1/events", load: () => import("@/app/api/v1/events/route") },
  { path: "/api/v1/instances", load: () => import("@/app/api/v1/instances/route") },
  { path: "/api/v1/instances/{id}", load: () => import("@/app/api/v1/instances/[id]/route") },
  { path: "/api/v1/instances/{id}/agents", load: () => import("@/app/api/v1/instances/[id]/agents/route") },
  { path: "/api/v1/instances/{id}/backups", load: () => import("@/app/api/v1/instances/[id]/backups/route") },
  { path: "/api/v1/instances/{id}/integrations", load: () => import("@/app/api/v1/instances/[id]/integrations/route") },
  { path: "/api/v1/instances/{id}/provider", load: () => import("@/app/api/v1/instances/[id]/provider/route") },
  { path: "/api/v1/instances/{id}/restart", load: () => import("@/app/api/v1/instances/[id]/restart/route") },
  { path: "/api/v1/instances/{id}/restore", load: () => import("@/app/api/v1/instances/[id]/restore/route") },
  { path: "/api/v1/instances/{id}/start", load: () => import("@/app/api/v1/instances/[id]/start/route") },
  { path: "/api/v1/instances/{id}/stop", load: () => import("@/app/api/v1/instances/[id]/stop/route") },
  { path: "/api/v1/instances/{id}/upgrade", load: () => import("@/app/api/v1/instances/[id]/upgrade/route") },
  { path: "/api/v1/keys", load: () => import("@/app/api/v1/keys/route") },
  { path: "/api/v1/keys/{id}", load: () => import("@/app/api/v1/keys/[id]/route") },
  { path: "/api/v1/metrics", load: () => import("@/app/api/v1/metrics/route") },
  { path: "/api/v1/openapi.json", load: () => import("@/app/api/v1/openapi.json/route") },
  { path: "/api/v1/operations", load: () => import("@/app/api/v1/operations/route") },
  { path: "/api/v1/operations/{id}", load: () => import("@/app/api/v1/operations/[id]/route") },
  { path: "/api/v1/regions", load: () => import("@/app/api/v1/regions/route") },
  { path: "/api/v1/versions", load: () => import("@/app/api/v1/versions/route") },
  { path: "/api/v1/webhooks", load: () => import("@/app/api/v1/webhooks/route") },
  { path: "/api/v1/webhooks/{id}", load: () => import("@/app/api/v1/webhooks/[id]/route") },
  { path: "/api/v1/webhooks/{id}/deliveries", load: () => import("@/app/api/v1/webhooks/[id]/deliveries/route") },
  {
    path: "/api/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver",
    load: () => import("@/app/api/v1/webhooks/[id]/deliveries/[deliveryId]/redeliver/route"),
  },
  { path: "/api/v1/webhooks/{id}/rotate-secret", load: () => import("@/app/api/v1/webhooks/[id]/rotate-secret/route") },
];
