# Plot of bench/run.sh: client CPU per sequential call and client RSS per connected client,
# ours beside the peers. Run in the results directory (reads cpu_mem.dat, writes cpu_mem.png).
set terminal pngcairo size 1600,660 font "sans,11"
set output "cpu_mem.png"
set datafile missing "?"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set grid ytics mytics lc rgb "#dddddd"
set key top left
set xtics nomirror scale 0
set ytics nomirror
set bmargin 5
set multiplot layout 1,2 title "mcp-cpp vs the TypeScript SDK clients (v1, v2) and Mastra's MCPClient on the same servers (bench/run.sh; figures and notes in results.md). Lower is better. No CPU bar: that client cannot talk to that server." font "sans,11"
set title "Client CPU per sequential echo call (user+sys, us; log scale)"
set ylabel "us per call"
set yrange [1:20000]
plot "cpu_mem.dat" index 0 using 2:xtic(1) title "mcp-cpp (ours)" lc rgb "#2a9d8f", \
     "" index 0 using 3 title "TS SDK" lc rgb "#e9c46a", \
     "" index 0 using 4 title "TS SDK v2" lc rgb "#f4a261", \
     "" index 0 using 5 title "Mastra" lc rgb "#e76f51", \
     "" index 0 using 6 title "floor: no client at all" lc rgb "#aaaaaa", \
     "" index 0 using ($0-0.32):2:(sprintf("%.0f", $2)) with labels offset 0,0.7 font "sans,9" notitle, \
     "" index 0 using ($0-0.16):3:(sprintf("%.0f", $3)) with labels offset 0,0.7 font "sans,9" notitle, \
     "" index 0 using ($0):4:(sprintf("%.0f", $4)) with labels offset 0,0.7 font "sans,9" notitle, \
     "" index 0 using ($0+0.16):5:(sprintf("%.0f", $5)) with labels offset 0,0.7 font "sans,9" notitle, \
     "" index 0 using ($0+0.32):6:(sprintf("%.0f", $6)) with labels offset 0,0.7 font "sans,9" notitle
set title "Memory per connected client, Node server (KiB; log scale; no bar: RSS delta <= 0)"
set ylabel "KiB per client"
set yrange [1:5000]
plot "cpu_mem.dat" index 1 using 2:xtic(1) title "mcp-cpp (ours)" lc rgb "#2a9d8f", \
     "" index 1 using 3 title "TS SDK" lc rgb "#e9c46a", \
     "" index 1 using 4 title "TS SDK v2" lc rgb "#f4a261", \
     "" index 1 using 5 title "Mastra" lc rgb "#e76f51", \
     "" index 1 using ($0-0.3):2:(sprintf("%.1f", $2)) with labels offset 0,0.7 font "sans,9" notitle, \
     "" index 1 using ($0-0.1):3:(sprintf("%.0f", $3)) with labels offset 0,0.7 font "sans,9" notitle, \
     "" index 1 using ($0+0.1):4:(sprintf("%.0f", $4)) with labels offset 0,0.7 font "sans,9" notitle, \
     "" index 1 using ($0+0.3):5:(sprintf("%.0f", $5)) with labels offset 0,0.7 font "sans,9" notitle
unset multiplot
