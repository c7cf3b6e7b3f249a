import type { Metadata, Viewport } from "next";
import type { ReactNode } from "react";
import { FAVICON } from "@/lib/openapi/guide";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: "MyOpenClaw Developer API", template: "%s · MyOpenClaw Developer API" },
  description:
    "Manage hosted OpenClaw AI assistants from your own scripts and CI/CD pipelines: instances, async operations, scoped API keys and webhooks.",
  icons: { icon: FAVICON },
};

export const viewport: Viewport = { colorScheme: "light dark" };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <a className="skip" href="#main">
          Skip to content
        </a>
        {children}
      </body>
    </html>
  );
}
