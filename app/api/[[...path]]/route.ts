import { routeNotFound } from "@/lib/http/route";

// Anything under /api that no route file matches (/api itself, /api/v1 bare, /api/v2/...): a problem+json 404, whatever the method.
export { routeNotFound as GET, routeNotFound as POST, routeNotFound as PUT, routeNotFound as PATCH, routeNotFound as DELETE, routeNotFound as OPTIONS, routeNotFound as HEAD };
