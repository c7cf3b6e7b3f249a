import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  poweredByHeader: false,
  // The embedded database migrates itself from these files at start-up.
  outputFileTracingIncludes: { "/**": ["./db/migrations/**"] },
};

export default nextConfig;
