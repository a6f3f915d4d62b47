// `npm run bench fleet-scale`: the fleet-scale benchmark (bench/fleet-scale/main.ts)
// with its defaults, 10,000 devices against the embedded broker and Mosquitto;
// FLEET_SCALE_DEVICES=N for fewer.
import { main } from './fleet-scale/main.js';

process.exit(await main([]));
