const mods = process.argv.slice(2);
for (const m of mods) {
  const c0 = process.cpuUsage(); const t0 = performance.now();
  await import(m);
  const c = process.cpuUsage(c0);
  console.log(m.padEnd(40), (performance.now() - t0).toFixed(0).padStart(6), 'ms wall', ((c.user + c.system) / 1000).toFixed(0).padStart(6), 'ms cpu');
}
