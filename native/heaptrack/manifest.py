# Freezes the Python half of heaptrack; included by every board's manifest.
package("heaptrack", base_path="modules")
