var total = 0;
for (int i = 0; i < 10; i++)
{
    if (i % 2 == 0) continue;
    if (i > 7) break;
    total += i;
}
foreach (var part in ((string)context.Variables["list"]).Split(','))
{
    switch (part.Trim())
    {
        case "a": total += 100; break;
        case "b":
        case "c": total += 10; break;
        default: continue;
    }
}
do { total--; } while (total > 200);
return total;
