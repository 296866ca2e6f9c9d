import { describe, expect, it } from "vitest";
import type { ImageConfig } from "../../src/registry/image.js";
import type { ApptainerFile } from "../../src/sandbox/apptainer-file.js";
import { assembleApptainerFiles } from "../../src/sandbox/apptainer-files.js";
import { renderRunscript } from "../../src/sandbox/runscript.js";

const config: ImageConfig = {
  architecture: "amd64",
  os: "linux",
  config: {
    Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"],
    Entrypoint: ["/docker-entrypoint.sh"],
    Cmd: ["nginx", "-g", "daemon off;"],
    Labels: { maintainer: "NGINX Docker Maintainers <docker-maint@nginx.com>" },
  },
};
const manifestDigest = `sha256:${"1".repeat(64)}`;
const indexDigest = `sha256:${"2".repeat(64)}`;
const configDigest = `sha256:${"3".repeat(64)}`;
const buildDate = new Date("2026-11-24T04:35:42Z");

const files = assembleApptainerFiles({ config, reference: "nginx:1.27", manifestDigest, indexDigest, configDigest, buildDate });
const byPath = new Map(files.map((f) => [f.path, f]));
const text = (path: string): string => String(byPath.get(path)?.content);

describe("assembleApptainerFiles", () => {
  it("lists exactly what apptainer build --sandbox adds, parents first", () => {
    const listing = files.map((f) => [f.path, f.type, f.mode.toString(8), f.onExisting, f.target ?? ""].join(" "));
    expect(listing).toEqual([
      "/.singularity.d dir 755 keep ",
      "/.singularity.d/libs dir 755 keep ",
      "/.singularity.d/actions dir 755 keep ",
      "/.singularity.d/env dir 755 keep ",
      "/dev dir 755 keep ",
      "/proc dir 755 keep ",
      "/root dir 755 keep ",
      "/var dir 755 keep ",
      "/var/tmp dir 755 keep ",
      "/tmp dir 755 keep ",
      "/etc dir 755 keep ",
      "/sys dir 755 keep ",
      "/home dir 755 keep ",
      "/singularity symlink 777 keep-unless-symlink .singularity.d/runscript",
      "/.run symlink 777 keep-unless-symlink .singularity.d/actions/run",
      "/.exec symlink 777 keep-unless-symlink .singularity.d/actions/exec",
      "/.test symlink 777 keep-unless-symlink .singularity.d/actions/test",
      "/.shell symlink 777 keep-unless-symlink .singularity.d/actions/shell",
      "/environment symlink 777 keep-unless-symlink .singularity.d/env/90-environment.sh",
      "/etc/hosts file 644 write-through ",
      "/etc/resolv.conf file 644 write-through ",
      "/.singularity.d/actions/exec file 755 replace ",
      "/.singularity.d/actions/run file 755 replace ",
      "/.singularity.d/actions/shell file 755 replace ",
      "/.singularity.d/actions/start file 755 replace ",
      "/.singularity.d/actions/test file 755 replace ",
      "/.singularity.d/env/01-base.sh file 755 replace ",
      "/.singularity.d/env/10-docker2singularity.sh file 755 replace ",
      "/.singularity.d/env/90-environment.sh file 755 replace ",
      "/.singularity.d/env/94-appsbase.sh file 755 replace ",
      "/.singularity.d/env/95-apps.sh file 755 replace ",
      "/.singularity.d/env/99-base.sh file 755 replace ",
      "/.singularity.d/env/99-runtimevars.sh file 755 replace ",
      "/.singularity.d/runscript file 755 replace ",
      "/.singularity.d/startscript file 755 replace ",
      "/.singularity.d/labels.json file 644 replace ",
      "/.singularity.d/Singularity file 644 move-to-history ",
    ]);
    const seen = new Set<string>(["/"]);
    for (const f of files) {
      expect(seen.has(f.path.slice(0, f.path.lastIndexOf("/")) || "/"), `parent of ${f.path} listed first`).toBe(true);
      seen.add(f.path);
    }
  });

  it("derives the runscript, the environment and the labels from the config", () => {
    expect(text("/.singularity.d/runscript")).toBe(renderRunscript(config.config?.Entrypoint, config.config?.Cmd));
    expect(text("/.singularity.d/env/10-docker2singularity.sh")).toBe(
      '#!/bin/sh\nexport PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"\nexport LANG="${LANG:-"C.UTF-8"}"\n',
    );
    expect(text("/.singularity.d/labels.json")).toBe(
      [
        "{",
        '\t"maintainer": "NGINX Docker Maintainers \\u003cdocker-maint@nginx.com\\u003e",',
        '\t"org.label-schema.build-arch": "amd64",',
        '\t"org.label-schema.build-date": "Tuesday_24_November_2026_4:35:42_UTC",',
        '\t"org.label-schema.schema-version": "1.0",',
        '\t"org.label-schema.usage.apptainer.version": "1.5.3",',
        '\t"org.label-schema.usage.singularity.deffile.bootstrap": "docker",',
        '\t"org.label-schema.usage.singularity.deffile.from": "nginx:1.27",',
        '\t"org.opencontainers.image.architecture": "amd64",',
        `\t"org.opencontainers.image.base.digest": "${indexDigest}",`,
        '\t"org.opencontainers.image.base.name": "docker.io/library/nginx:1.27",',
        '\t"org.opencontainers.image.created": "2026-11-24T04:35:42Z"',
        "}",
      ].join("\n"),
    );
    expect(text("/.singularity.d/Singularity")).toBe("bootstrap: docker\nfrom: nginx:1.27\n\n");
    expect(text("/etc/hosts")).toBe("");
    expect(text("/.singularity.d/env/94-appsbase.sh")).toBe("");
  });

  it("names the manifest digest when no index was involved", () => {
    const single = assembleApptainerFiles({ config, reference: "nginx@" + manifestDigest, manifestDigest, buildDate });
    const labels = JSON.parse(String(single.find((f) => f.path.endsWith("labels.json"))?.content)) as Record<string, string>;
    expect(labels["org.opencontainers.image.base.digest"]).toBe(manifestDigest);
    expect(labels["org.opencontainers.image.base.name"]).toBe(`docker.io/library/nginx@${manifestDigest}`);
  });

  it("keeps the image's /etc files on request", () => {
    const kept = assembleApptainerFiles({ config, reference: "nginx", manifestDigest, buildDate, keepImageEtcFiles: true });
    const etc = kept.filter((f: ApptainerFile) => f.path.startsWith("/etc/"));
    expect(etc.map((f) => `${f.path} ${f.onExisting}`)).toEqual(["/etc/hosts keep", "/etc/resolv.conf keep"]);
  });

  it("every non-empty script starts with an interpreter line", () => {
    for (const f of files.filter((x) => x.type === "file" && x.mode === 0o755 && x.content !== "")) {
      expect(String(f.content).startsWith("#!/bin/sh\n"), f.path).toBe(true);
    }
  });
});
