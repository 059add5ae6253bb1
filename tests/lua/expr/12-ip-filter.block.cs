int HostToNetworkOrder(int host)
{
    return (((int)HostToNetworkOrderShort((short)host) & 0xFFFF) << 16)
        | ((int)HostToNetworkOrderShort((short)(host >> 16)) & 0xFFFF);
}
short HostToNetworkOrderShort(short host)
{
    return (short)((((int)host & 0xFF) << 8) | (int)((host >> 8) & 0xFF));
}
string ipAddress = context.Request.Headers.GetValueOrDefault("x-forwarded-for","");
if (!string.IsNullOrEmpty(ipAddress))
{
    string[] tokens = ipAddress.Split(':');
    if(tokens.Length == 2) { ipAddress = tokens[0]; }
    List<string> cidrList = new List<string>(){ "10.0.0.0/8", "192.168.0.0/16" };
    foreach (string cidrAddress in cidrList)
    {
        string[] cidrParts = cidrAddress.Split('/');
        string[] inputIPParts = ipAddress.Split('.');
        string[] cidrIPArray = cidrParts[0].Split('.');
        if (inputIPParts.Length == 4 && cidrIPArray.Length == 4)
        {
            byte[] inputIPBytes = new byte[] {Convert.ToByte(int.Parse(inputIPParts[0])), Convert.ToByte(int.Parse(inputIPParts[1])),
                Convert.ToByte(int.Parse(inputIPParts[2])), Convert.ToByte(int.Parse(inputIPParts[3])), };
            byte[] cidrIPBytes = new byte[] {Convert.ToByte(int.Parse(cidrIPArray[0])), Convert.ToByte(int.Parse(cidrIPArray[1])),
                Convert.ToByte(int.Parse(cidrIPArray[2])), Convert.ToByte(int.Parse(cidrIPArray[3])), };
            int cidrAddr = BitConverter.ToInt32(inputIPBytes,0);
            int ipAddr = BitConverter.ToInt32(cidrIPBytes,0);
            var host = int.Parse(cidrParts[1]);
            host = -1 << (32-host);
            var mask = HostToNetworkOrder(host);
            if (((ipAddr & mask) == (cidrAddr & mask)))
            {
                return "validated";
            }
        }
    }
}
return ipAddress;
