import { operatorRoute } from "@/lib/http/operator";

// The admin command's way into a running server (npm run admin); never part of the public API.
export const { POST, GET, PUT, PATCH, DELETE } = operatorRoute;
