"""Style transfer on UnlearnCanvas: methods run over the benchmark's triplets, and their scores.

``vgg`` and ``adain`` hold AdaIN's networks (pytorch-AdaIN's layouts and weight files);
``methods`` the method interface and registry; ``triplets`` the release's (content, reference,
ground truth) grid and output names; ``generate`` a method run over it; ``losses`` the release's
ViT and VGG losses; ``score`` an output folder scored into one JSON result.
"""
