/**
 * Child process for the signal test: publishes an image through the gateway and sends itself
 * SIGTERM once the upload starts. Prints the error code it ended with and exits 3.
 * argv: apiUrl repoUrl keyId secret fqrn workDir
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { Readable } from "node:stream";
import { writeImageCatalogs } from "../../src/cvmfs/catalog/writer.js";
import { LocalContentStore } from "../../src/cvmfs/objects/local-content-store.js";
import { errorCode } from "../../src/errors.js";
import { GatewayClient } from "../../src/gateway/gateway-client.js";
import { publishThroughGateway } from "../../src/gateway/gateway-publisher.js";
import { GatewayKey } from "../../src/gateway/key-file.js";
import type { DirNode } from "../../src/tree/types.js";

const [apiUrl, repoUrl, keyId, secret, fqrn, workDir] = process.argv.slice(2) as [string, string, string, string, string, string];
const meta = { mode: 0o755, uid: 0, gid: 0, mtime: 1_700_000_000, mtimeNs: 0 };
const store = await LocalContentStore.create(join(workDir, "staging"));
const tree: DirNode = { ...meta, type: "dir", children: new Map() };
for (let i = 0; i < 40; i++) {
  const content = await store.putFile(Readable.from([randomBytes(50_000)]));
  tree.children.set(`f${i}`, { ...meta, mode: 0o644, type: "file", content, inode: i + 1 });
}
const ref = await writeImageCatalogs(tree, "/.images/signalled", store);
try {
  await publishThroughGateway({
    client: new GatewayClient({ url: apiUrl, key: new GatewayKey(keyId, secret) }),
    fqrn,
    repoUrl,
    leasePath: "/.images/signalled",
    staging: store,
    edit: (e) => e.mountNested("/.images/signalled", ref),
    maxObjects: 1,
    logger: { log: (e) => void (e.event === "gateway.upload" && process.kill(process.pid, "SIGTERM")) },
  });
  console.log("published");
  process.exit(0);
} catch (err) {
  console.log(errorCode(err));
  process.exit(3);
}
