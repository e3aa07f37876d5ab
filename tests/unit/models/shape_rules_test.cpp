// The networks' shape rules as plain integers (shared by the factory and configuration validation).
#include "img2img/models/shape_rules.h"

#include <gtest/gtest.h>

namespace img2img {
namespace {

TEST(ShapeRulesTest, UnetChannelsFollowTheNodesDocumentedExample) {
  // 256 px, 8 layers, initial 64: capped at the image size.
  EXPECT_EQ(unet_channels(/*initial_layer_size=*/64, /*max_layer_size=*/0, /*layers=*/8, /*image_size=*/256),
            (std::vector<int64_t>{64, 128, 256, 256, 256, 256, 256, 256}));
  // max_layer_size 512: pix2pix's unet_256 (ngf * 8).
  EXPECT_EQ(unet_channels(64, 512, 8, 256), (std::vector<int64_t>{64, 128, 256, 512, 512, 512, 512, 512}));
}

TEST(ShapeRulesTest, UnetChannelsNeverFallBelowTheInitialSize) {
  EXPECT_EQ(unet_channels(64, 16, 3, 256), (std::vector<int64_t>{64, 64, 64}));  // cap below initial
  EXPECT_EQ(unet_channels(64, 0, 3, 32), (std::vector<int64_t>{64, 64, 64}));    // image smaller than initial
  EXPECT_TRUE(unet_channels(64, 0, 0, 256).empty());
}

TEST(ShapeRulesTest, UnetChannelsDoNotOverflowForLargeValues) {
  const std::vector<int64_t> c = unet_channels(4096, int64_t{1} << 60, 40, 8192);
  ASSERT_EQ(c.size(), 40u);
  for (size_t i = 1; i < c.size(); ++i) EXPECT_GE(c[i], c[i - 1]) << i;
}

TEST(ShapeRulesTest, PatchOutputSizeOfThePix2PixDefaults) {
  // 3 layers, kernel 4 at 256 px: 128, 64, 32, then 31 and 30 (the 70x70 PatchGAN's 30x30 map).
  EXPECT_EQ(patch_output_size(/*layers=*/3, /*kernel_size=*/4, /*image_size=*/256), 30);
  EXPECT_EQ(patch_output_size(1, 4, 256), 126);
  // Odd kernels keep the size in the stride-1 convs.
  EXPECT_EQ(patch_output_size(3, 3, 256), 32);
}

TEST(ShapeRulesTest, PatchOutputSizeIsNotPositiveWhenTheImageIsTooSmall) {
  EXPECT_LE(patch_output_size(3, 4, 8), 0);
  EXPECT_LE(patch_output_size(1, 4, 4), 0);
  EXPECT_GE(patch_output_size(1, 3, 4), 1);
}

// issue 16 (fresh-user pass): 100 px silently gave a 2-layer U-Net; the warning names sizes that allow more.
TEST(ShapeRulesTest, ShallowUnetWarningNamesSizesWithMoreLayers) {
  const std::string w = shallow_unet_warning(/*layers=*/2, /*image_size=*/100);
  EXPECT_NE(w.find("generator.layers = 2 at data.image_size = 100"), std::string::npos) << w;
  // 96 = 32 * 3 allows 5 layers, 128 = 2^7 allows 7 (independent: 96 / 2^5 = 3, 128 / 2^7 = 1).
  EXPECT_NE(w.find("--data.image_size=96 (5 layers) or 128 (7 layers)"), std::string::npos) << w;
  EXPECT_EQ(shallow_unet_warning(6, 64), "");    // the derived default at 64 px
  EXPECT_EQ(shallow_unet_warning(5, 96), "");    // deep enough
  EXPECT_EQ(shallow_unet_warning(3, 40), "");    // small images: few layers is all there is
  EXPECT_NE(shallow_unet_warning(4, 208), "");   // 208 = 16 * 13
}

}  // namespace
}  // namespace img2img
