// `promtool check metrics` (Debian's prometheus package), the linter the /metrics exposition must pass.

/** Runs `promtool check metrics` on `text`: its exit code and what it reported. */
export async function promtool(text: string): Promise<{ code: number; output: string }> {
  const bin = Bun.which("promtool");
  if (bin === null) {
    throw new Error("promtool not found on PATH: install Debian's prometheus package (make test does when it is missing)");
  }
  const child = Bun.spawn([bin, "check", "metrics"], { stdin: new TextEncoder().encode(text), stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, output: (stdout + stderr).trim() };
}
