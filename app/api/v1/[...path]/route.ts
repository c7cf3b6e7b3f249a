import { ApiError } from "@/lib/errors";
import { problem } from "@/lib/http/route";

// Anything under /api/v1 that no route file matches: a problem+json 404, whatever the method.
const notFound = async (req: Request) =>
  problem(req, new ApiError("route_not_found", `No route ${new URL(req.url).pathname}. See /api/v1/openapi.json for the API's routes.`));

export { notFound as GET, notFound as POST, notFound as PUT, notFound as PATCH, notFound as DELETE, notFound as OPTIONS, notFound as HEAD };
