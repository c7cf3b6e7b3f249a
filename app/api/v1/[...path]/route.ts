import { routeNotFound } from "@/lib/http/route";

// Anything under /api/v1 that no route file matches: a problem+json 404, whatever the method.
export { routeNotFound as GET, routeNotFound as POST, routeNotFound as PUT, routeNotFound as PATCH, routeNotFound as DELETE, routeNotFound as OPTIONS, routeNotFound as HEAD };
