// Entry point is replaced by the CLI (Cli/) as the runtime lands.
return 0;
